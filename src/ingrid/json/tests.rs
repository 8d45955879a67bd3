use super::*;

/// serde_json's reading of the same text, converted, for comparison.
fn from_serde(value: serde_json::Value) -> Json {
    match value {
        serde_json::Value::Null => Json::Null,
        serde_json::Value::Bool(flag) => Json::Bool(flag),
        serde_json::Value::Number(number) => Json::Number(number.to_string()),
        serde_json::Value::String(text) => Json::String(text),
        serde_json::Value::Array(items) => Json::Array(items.into_iter().map(from_serde).collect()),
        serde_json::Value::Object(fields) => Json::Object(
            fields
                .into_iter()
                .map(|(key, value)| (key, from_serde(value)))
                .collect(),
        ),
    }
}

/// Objects' fields sorted (serde_json's map is), for comparison.
fn sorted(value: Json) -> Json {
    match value {
        Json::Array(items) => Json::Array(items.into_iter().map(sorted).collect()),
        Json::Object(fields) => {
            let mut fields: Vec<(String, Json)> = fields
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
