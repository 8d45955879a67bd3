use super::*;

/// serde_json's reading of the same text, converted, for comparison.
fn from_serde(value: serde_json::Value) -> Json<'static> {
    match value {
        serde_json::Value::Null => Json::Null,
        serde_json::Value::Bool(flag) => Json::Bool(flag),
        serde_json::Value::Number(number) => Json::Number(number.to_string().into()),
        serde_json::Value::String(text) => Json::String(text.into()),
        serde_json::Value::Array(items) => Json::Array(items.into_iter().map(from_serde).collect()),
        serde_json::Value::Object(fields) => Json::Object(
            fields
                .into_iter()
                .map(|(key, value)| (key.into(), from_serde(value)))
                .collect(),
        ),
    }
}

/// Objects' fields sorted (serde_json's map is), for comparison.
fn sorted(value: Json) -> Json {
    match value {
        Json::Array(items) => Json::Array(items.into_iter().map(sorted).collect()),
        Json::Object(fields) => {
            let mut fields: Vec<(Cow<str>, Json)> = fields
                .into_iter()
                .map(|(key, value)| (key, sorted(value)))
                .collect();
            fields.sort_by(|left, right| left.0.cmp(&right.0));
            Json::Object(fields)
        }
        other => other,
    }
}

#[test]
fn values_read_as_serde_json_reads_them() {
    for text in [
        "null",
        " true ",
        "false",
        "0",
        "-12",
        "123456789",
        r#""plain""#,
        r#""esc \" \\ \/ \b \f \n \r \t \u00e5 \u20AC \ud83d\ude00 ok""#,
        r#""åäö €""#,
        "[]",
        "{}",
        r#"[1, [2, [3, {"a": [true, false, null]}]], "x"]"#,
        r#"{ "id" : 7 , "name":"A","nested":{"deep":[{"z":1,"a":2}]} }"#,
    ] {
        let ours = parse(text).map(sorted);
        let theirs = serde_json::from_str::<serde_json::Value>(text).map(from_serde);
        assert_eq!(ours.ok(), theirs.ok(), "{text}");
    }
    // Numbers keep their text.
    assert_eq!(
        parse("[10000000000000000.01, 1.5e2, -0.10]"),
        Ok(Json::Array(vec![
            Json::Number("10000000000000000.01".into()),
            Json::Number("1.5e2".into()),
            Json::Number("-0.10".into()),
        ]))
    );
}

#[test]
fn malformed_text_is_an_error_never_a_panic() {
    for text in [
        "",
        "nul",
        "[1,",
        "[1 2]",
        "{\"a\" 1}",
        "{\"a\":1,}",
        "{1:2}",
        "\"open",
        "\"bad \\x escape\"",
        "\"\\u12\"",
        "\"\\ud83d alone\"",
        "\"\\ude00\"",
        "\"\\ud83d\\u0041\"",
        "\"tab\tinside\"",
        "1 2",
        "\"\\",
        "\"\\u",
    ] {
        assert!(parse(text).is_err(), "{text:?}");
    }
    let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
    assert!(parse(&deep).is_err());
    let fine = format!("{}{}", "[".repeat(100), "]".repeat(100));
    assert!(parse(&fine).is_ok());
}

/// The same tree, numbers compared as values: serde_json (without `float_roundtrip`) may read
/// a long float one unit in the last place off, so floats agree to 1e-15 relative.
fn same_tree(ours: &Json, theirs: &Json) -> bool {
    match (ours, theirs) {
        (Json::Number(a), Json::Number(b)) => match (a.parse::<f64>(), b.parse::<f64>()) {
            (Ok(a), Ok(b)) => a == b || ((a - b) / b).abs() < 1e-15,
            _ => a == b,
        },
        (Json::Array(a), Json::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same_tree(x, y))
        }
        (Json::Object(a), Json::Object(b)) => {
            a.len() == b.len()
                && a.iter()
                    .zip(b)
                    .all(|((ka, va), (kb, vb))| ka == kb && same_tree(va, vb))
        }
        (a, b) => a == b,
    }
}

/// A repeated key as serde_json's map keeps it: the last value (this reader keeps every one;
/// a model refuses the repetition).
fn last_wins(value: Json) -> Json {
    match value {
        Json::Array(items) => Json::Array(items.into_iter().map(last_wins).collect()),
        Json::Object(fields) => {
            let mut kept: Vec<(Cow<str>, Json)> = Vec::new();
            for (key, value) in fields {
                let value = last_wins(value);
                match kept.iter_mut().find(|(seen, _)| *seen == key) {
                    Some(slot) => slot.1 = value,
                    None => kept.push((key, value)),
                }
            }
            Json::Object(kept)
        }
        other => other,
    }
}

proptest::proptest! {
    /// Names compare inline as `==` compares them.
    #[test]
    fn names_compare_as_strings_do(left in "[a-c]{0,20}", right in "[a-c]{0,20}") {
        proptest::prop_assert_eq!(same(&left, &right), left == right);
        proptest::prop_assert!(same(&left, &left.clone()));
    }

    /// Eight bytes at a time, a run stops where the byte-by-byte test stops.
    #[test]
    fn a_run_ends_at_the_first_quote_backslash_or_control(word in proptest::arbitrary::any::<[u8; 8]>()) {
        let ends = |byte: &u8| *byte == b'"' || *byte == b'\\' || *byte < 0x20;
        let flags = run_ends(u64::from_le_bytes(word));
        proptest::prop_assert_eq!(flags != 0, word.iter().any(ends));
        if flags != 0 {
            proptest::prop_assert_eq!(Some(first_flagged(flags)), word.iter().position(ends));
        }
    }

    /// The reader sees untrusted bodies first: on valid JSON and on every cut or flipped byte
    /// of it, it accepts exactly what serde_json accepts, reads the same tree, and never panics.
    #[test]
    fn the_reader_agrees_with_serde_json_on_valid_and_broken_text(
        value in crate::fuzz::json_value(),
        at in 0usize..4096,
        flip in proptest::arbitrary::any::<u8>(),
    ) {
        let valid = value.to_string();
        let mut variants = vec![valid.clone().into_bytes()];
        let mut cut = valid.clone().into_bytes();
        cut.truncate(at % (cut.len() + 1));
        variants.push(cut);
        let mut flipped = valid.into_bytes();
        let index = at % flipped.len().max(1);
        if let Some(byte) = flipped.get_mut(index) {
            *byte ^= flip;
        }
        variants.push(flipped);
        for bytes in variants {
            let Ok(text) = core::str::from_utf8(&bytes) else { continue };
            let theirs = serde_json::from_str::<serde_json::Value>(text);
            let ours = parse(text);
            // A number past f64's range is text to this reader (a model then refuses it).
            let out_of_range = theirs
                .as_ref()
                .is_err_and(|error| error.to_string().contains("number out of range"));
            if !out_of_range {
                proptest::prop_assert_eq!(ours.is_ok(), theirs.is_ok(), "{:?}: {:?}", text, ours);
            }
            if let (Ok(ours), Ok(theirs)) = (ours, theirs) {
                let (ours, theirs) = (sorted(last_wins(ours)), sorted(from_serde(theirs)));
                proptest::prop_assert!(same_tree(&ours, &theirs), "{:?} / {:?}", ours, theirs);
            }
        }
    }
}
