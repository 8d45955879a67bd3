//! Ingrid's JSON bodies as a small tree whose numbers keep their text (money is read from the
//! digits, never through f64), and the typed reads the models are decoded with. One parser and
//! a few field readers replace a serde `Deserialize` derive per model, which cost the component
//! a visitor per struct.
//!
//! The models still implement `Deserialize`: serde_json first checks the body is JSON (and hands
//! over its text as a `RawValue`), then [`parse`] builds the tree.

use crate::prelude::*;

use alloc::borrow::Cow;
use serde::Deserializer;
use serde::de::{Deserialize, Error as _};
use serde_json::value::RawValue;

use crate::money::Money;

/// A JSON value; numbers as written. Text is borrowed from the parsed text where it can be (a
/// number, a string or a field name without escapes), so reading a body copies little.
#[derive(Debug, Clone, PartialEq)]
pub enum Json<'a> {
    Null,
    Bool(bool),
    Number(Cow<'a, str>),
    String(Cow<'a, str>),
    Array(Vec<Json<'a>>),
    Object(Vec<(Cow<'a, str>, Json<'a>)>),
}

/// Nesting deeper than this is refused (serde_json's own limit is 128).
const MAX_DEPTH: u32 = 128;

/// Parses one JSON value (surrounding whitespace allowed).
pub fn parse(text: &str) -> Result<Json<'_>, String> {
    let mut parser = Parser {
        text,
        pos: 0,
        items: Vec::new(),
        members: Vec::new(),
    };
    let value = parser.value(0)?;
    parser.skip_whitespace();
    if parser.pos != text.len() {
        return Err(parser.error("trailing characters"));
    }
    Ok(value)
}

/// A resource read from a JSON object's fields.
pub trait Read: Sized {
    fn read(fields: Fields) -> Result<Self, String>;

    /// From a whole value, which must be an object (`what` names it in the message).
    fn read_value(value: Json, what: &str) -> Result<Self, String> {
        Fields::of(value, what).and_then(Self::read)
    }
}

/// A model's `Deserialize`: the value's text, parsed and read by `read`, whose message becomes
/// the deserializer's error.
pub fn deserialize_with<'de, D: Deserializer<'de>, T>(
    deserializer: D,
    read: fn(Json) -> Result<T, String>,
) -> Result<T, D::Error> {
    let raw = Box::<RawValue>::deserialize(deserializer)?;
    parse(raw.get()).and_then(read).map_err(D::Error::custom)
}

/// A body this plugin reads: a resource (an object) or a page of them (an array).
pub trait FromBody: Sized {
    fn from_json(value: Json) -> Result<Self, String>;

    /// A response body: UTF-8 JSON, parsed by [`parse`] and read.
    fn from_body(body: &[u8]) -> Result<Self, String> {
        let text = core::str::from_utf8(body).map_err(|_| "the body is not UTF-8".to_string())?;
        parse(text).and_then(Self::from_json)
    }
}

impl<T: Read> FromBody for T {
    fn from_json(value: Json) -> Result<Self, String> {
        T::read_value(value, "the body")
    }
}

impl<T: Read> FromBody for List<T> {
    fn from_json(value: Json) -> Result<Self, String> {
        read_list(value)
    }
}

fn read_list<T: Read>(value: Json) -> Result<List<T>, String> {
    match value {
        Json::Array(items) => {
            let mut list = Vec::with_capacity(items.len());
            for (index, item) in items.into_iter().enumerate() {
                list.push(
                    T::read_value(item, "the item")
                        .map_err(|error| format!("in item {index}: {error}"))?,
                );
            }
            Ok(List(list))
        }
        other => Err(format!(
            "invalid type for the body: expected an array, found {}",
            other.kind()
        )),
    }
}

/// A JSON array of resources (a list endpoint's page), read as its items are.
#[derive(Debug, Clone, PartialEq)]
pub struct List<T>(pub Vec<T>);

impl<'de, T: Read> Deserialize<'de> for List<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserialize_with(deserializer, read_list)
    }
}

/// RFC 8259's number: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`.
fn is_json_number(text: &[u8]) -> bool {
    let digits = |text: &[u8]| text.iter().take_while(|b| b.is_ascii_digit()).count();
    let mut rest = text.strip_prefix(b"-").unwrap_or(text);
    let int = digits(rest);
    if int == 0 || (int > 1 && rest[0] == b'0') {
        return false;
    }
    rest = &rest[int..];
    if let Some(after) = rest.strip_prefix(b".") {
        let frac = digits(after);
        if frac == 0 {
            return false;
        }
        rest = &after[frac..];
    }
    if let Some(after) = rest.strip_prefix(b"e").or_else(|| rest.strip_prefix(b"E")) {
        let after = after
            .strip_prefix(b"+")
            .or_else(|| after.strip_prefix(b"-"))
            .unwrap_or(after);
        let exp = digits(after);
        if exp == 0 {
            return false;
        }
        rest = &after[exp..];
    }
    rest.is_empty()
}

/// Each byte of `word` (eight bytes of text) that is a quote, a backslash or a control
/// character has its high bit set in the result, and none before the first such byte does
/// (borrows only run upwards), so the result is zero exactly when none of them ends a run.
#[inline(always)]
fn run_ends(word: u64) -> u64 {
    const ONES: u64 = u64::from_le_bytes([1; 8]);
    const HIGH: u64 = ONES << 7;
    let zero_byte = |word: u64| word.wrapping_sub(ONES) & !word & HIGH;
    zero_byte(word ^ (ONES * u64::from(b'"')))
        | zero_byte(word ^ (ONES * u64::from(b'\\')))
        | (word.wrapping_sub(ONES * 0x20) & !word & HIGH)
}

/// The index of the first byte flagged by [`run_ends`] (`flags` is not zero).
#[inline(always)]
fn first_flagged(flags: u64) -> usize {
    // At most 7.
    (flags.trailing_zeros() / 8) as usize
}

struct Parser<'a> {
    text: &'a str,
    pos: usize,
    /// The items of the arrays being read, innermost last: each array is then allocated once,
    /// at its size.
    items: Vec<Json<'a>>,
    /// The fields of the objects being read, likewise.
    members: Vec<(Cow<'a, str>, Json<'a>)>,
}

impl<'a> Parser<'a> {
    #[cold]
    #[inline(never)]
    fn error(&self, what: &str) -> String {
        format!("{what} at byte {}", self.pos)
    }

    #[inline(always)]
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    #[inline(always)]
    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.peek() {
            self.pos += 1;
        }
    }

    /// Consumes `byte` (after whitespace) if it comes next.
    #[inline(always)]
    fn eat(&mut self, byte: u8) -> bool {
        self.skip_whitespace();
        let found = self.peek() == Some(byte);
        if found {
            self.pos += 1;
        }
        found
    }

    fn literal(&mut self, word: &str, value: Json<'a>) -> Result<Json<'a>, String> {
        if self
            .text
            .get(self.pos..)
            .is_some_and(|rest| rest.starts_with(word))
        {
            self.pos += word.len();
            Ok(value)
        } else {
            Err(self.error("expected a JSON value"))
        }
    }

    fn value(&mut self, depth: u32) -> Result<Json<'a>, String> {
        if depth > MAX_DEPTH {
            return Err(self.error("nested too deeply"));
        }
        self.skip_whitespace();
        match self.peek() {
            Some(b'n') => self.literal("null", Json::Null),
            Some(b't') => self.literal("true", Json::Bool(true)),
            Some(b'f') => self.literal("false", Json::Bool(false)),
            Some(b'"') => self.string().map(Json::String),
            Some(b'[') => {
                self.pos += 1;
                let base = self.items.len();
                if !self.eat(b']') {
                    loop {
                        let item = self.value(depth + 1)?;
                        self.items.push(item);
                        if self.eat(b']') {
                            break;
                        }
                        if !self.eat(b',') {
                            return Err(self.error("expected `,` or `]`"));
                        }
                    }
                }
                Ok(Json::Array(self.items.split_off(base)))
            }
            Some(b'{') => {
                self.pos += 1;
                let base = self.members.len();
                if !self.eat(b'}') {
                    loop {
                        self.skip_whitespace();
                        if self.peek() != Some(b'"') {
                            return Err(self.error("expected a field name"));
                        }
                        let name = self.string()?;
                        if !self.eat(b':') {
                            return Err(self.error("expected `:`"));
                        }
                        let value = self.value(depth + 1)?;
                        self.members.push((name, value));
                        if self.eat(b'}') {
                            break;
                        }
                        if !self.eat(b',') {
                            return Err(self.error("expected `,` or `}`"));
                        }
                    }
                }
                Ok(Json::Object(self.members.split_off(base)))
            }
            Some(b'-' | b'0'..=b'9') => {
                let start = self.pos;
                while let Some(b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9') = self.peek() {
                    self.pos += 1;
                }
                let number = self.text.get(start..self.pos).unwrap_or_default();
                if !is_json_number(number.as_bytes()) {
                    self.pos = start;
                    return Err(self.error("not a JSON number"));
                }
                Ok(Json::Number(Cow::Borrowed(number)))
            }
            _ => Err(self.error("expected a JSON value")),
        }
    }

    /// The characters from here up to the next quote, backslash or control character.
    #[inline(always)]
    fn run(&mut self) -> &'a str {
        let start = self.pos;
        let rest = self.text.as_bytes().get(start..).unwrap_or_default();
        // Eight bytes at a time while none of them ends the run (most of a body is plain
        // text), then byte by byte.
        let mut length = 0;
        while let Some(chunk) = rest.get(length..).and_then(<[u8]>::first_chunk::<8>) {
            let flags = run_ends(u64::from_le_bytes(*chunk));
            if flags != 0 {
                length += first_flagged(flags);
                self.pos = start + length;
                return self.text.get(start..self.pos).unwrap_or_default();
            }
            length += 8;
        }
        length += rest
            .get(length..)
            .unwrap_or_default()
            .iter()
            .position(|&byte| byte == b'"' || byte == b'\\' || byte < 0x20)
            .unwrap_or(rest.len() - length);
        self.pos = start + length;
        // Stops only at ASCII bytes, so the run is whole characters.
        self.text.get(start..self.pos).unwrap_or_default()
    }

    /// A string, at its opening quote: borrowed when it has no escape.
    #[inline(always)]
    fn string(&mut self) -> Result<Cow<'a, str>, String> {
        self.pos += 1;
        let first = self.run();
        if self.peek() == Some(b'"') {
            self.pos += 1;
            return Ok(Cow::Borrowed(first));
        }
        let mut out = String::from(first);
        loop {
            match self.peek() {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(Cow::Owned(out));
                }
                Some(b'\\') => {
                    self.pos += 1;
                    let escape = self.peek();
                    self.pos += 1;
                    out.push(match escape {
                        Some(b'"') => '"',
                        Some(b'\\') => '\\',
                        Some(b'/') => '/',
                        Some(b'b') => '\u{8}',
                        Some(b'f') => '\u{c}',
                        Some(b'n') => '\n',
                        Some(b'r') => '\r',
                        Some(b't') => '\t',
                        Some(b'u') => self.unicode_escape()?,
                        _ => return Err(self.error("invalid escape")),
                    });
                }
                _ => return Err(self.error("unterminated string or control character in string")),
            }
            out.push_str(self.run());
        }
    }

    /// After `\u`: four hex digits, a surrogate pair as two escapes.
    fn unicode_escape(&mut self) -> Result<char, String> {
        let first = self.hex4()?;
        let code = if (0xD800..0xDC00).contains(&first) {
            if !self
                .text
                .get(self.pos..)
                .is_some_and(|rest| rest.starts_with("\\u"))
            {
                return Err(self.error("lone surrogate in escape"));
            }
            self.pos += 2;
            let second = self.hex4()?;
            if !(0xDC00..0xE000).contains(&second) {
                return Err(self.error("lone surrogate in escape"));
            }
            0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
        } else {
            first
        };
        char::from_u32(code).ok_or_else(|| self.error("lone surrogate in escape"))
    }

    fn hex4(&mut self) -> Result<u32, String> {
        let mut code = 0;
        for _ in 0..4 {
            let digit = self
                .peek()
                .and_then(|byte| char::from(byte).to_digit(16))
                .ok_or_else(|| self.error("invalid unicode escape"))?;
            code = code * 16 + digit;
            self.pos += 1;
        }
        Ok(code)
    }
}

impl<'a> Json<'a> {
    /// An object's field (the first of that name), like serde_json's `Value::get`.
    pub fn get(&self, name: &str) -> Option<&Json<'a>> {
        match self {
            Json::Object(fields) => fields
                .iter()
                .find(|(key, _)| key == name)
                .map(|(_, value)| value),
            _ => None,
        }
    }

    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Json::Number(text) => text.parse().ok(),
            _ => None,
        }
    }

    /// For messages: what kind of value this is.
    fn kind(&self) -> &'static str {
        match self {
            Json::Null => "null",
            Json::Bool(_) => "a boolean",
            Json::Number(_) => "a number",
            Json::String(_) => "a string",
            Json::Array(_) => "an array",
            Json::Object(_) => "an object",
        }
    }
}

/// "invalid type for `name`: expected …, found …".
fn invalid_type(name: &str, expected: &str, found: &Json) -> String {
    format!(
        "invalid type for `{name}`: expected {expected}, found {}",
        found.kind()
    )
}

/// An object's fields, taken out one by one by the model reading it. Fields it does not read
/// are ignored.
pub struct Fields<'a> {
    fields: Vec<(Cow<'a, str>, Json<'a>)>,
    /// Whether some name occurs more than once (then every read looks at every field).
    repeated: bool,
    /// Where the next read starts looking: a model reads its fields mostly in the order they
    /// are written.
    next: usize,
}

/// In the component, what a model left unread is not dropped: the allocator never reuses a
/// block but the last one (see `runtime`), so the drop would only walk the fields.
#[cfg(target_family = "wasm")]
impl Drop for Fields<'_> {
    fn drop(&mut self) {
        core::mem::forget(core::mem::take(&mut self.fields));
    }
}

impl<'a> Fields<'a> {
    fn new(fields: Vec<(Cow<'a, str>, Json<'a>)>) -> Fields<'a> {
        // Names are compared pairwise only when two of them share a sketch (length, first and
        // last byte): rarely, for an object without repeats.
        let mut seen = 0u64;
        let mut alike = false;
        for (name, _) in &fields {
            let bytes = name.as_bytes();
            let sketch = bytes.len()
                ^ usize::from(bytes.first().copied().unwrap_or(0)).wrapping_mul(7)
                ^ usize::from(bytes.last().copied().unwrap_or(0)).wrapping_mul(13);
            let bit = 1u64 << (sketch % 64);
            alike |= seen & bit != 0;
            seen |= bit;
        }
        let repeated = alike
            && fields.iter().enumerate().any(|(index, (name, _))| {
                fields
                    .get(index + 1..)
                    .unwrap_or_default()
                    .iter()
                    .any(|(other, _)| same(other, name))
            });
        Fields {
            fields,
            repeated,
            next: 0,
        }
    }

    /// The fields of `value`, which must be an object (`what` names it in the message).
    pub fn of(value: Json<'a>, what: &str) -> Result<Fields<'a>, String> {
        match value {
            Json::Object(fields) => Ok(Fields::new(fields)),
            other => Err(format!(
                "invalid type for {what}: expected an object, found {}",
                other.kind()
            )),
        }
    }

    /// The field's value; `None` when it is absent or null.
    fn take(&mut self, name: &str) -> Result<Option<Json<'a>>, String> {
        if !self.repeated {
            // The one field of that name, if any: from `next` to the end, then from the start.
            let next = self.next;
            let found = match self.fields.get(next) {
                Some((key, _)) if same(key, name) => Some(next),
                _ => {
                    let (before, after) = self.fields.split_at(next.min(self.fields.len()));
                    match after.iter().position(|(key, _)| same(key, name)) {
                        Some(index) => Some(next + index),
                        None => before.iter().position(|(key, _)| same(key, name)),
                    }
                }
            };
            let Some(index) = found else {
                return Ok(None);
            };
            self.next = index + 1;
            let value = self
                .fields
                .get_mut(index)
                .map(|(_, value)| core::mem::replace(value, Json::Null));
            return Ok(value.filter(|value| !matches!(value, Json::Null)));
        }
        let mut found = None;
        for (key, value) in &mut self.fields {
            if key == name {
                if found.is_some() {
                    return Err(format!("duplicate field `{name}`"));
                }
                found = Some(core::mem::replace(value, Json::Null));
            }
        }
        Ok(found.filter(|value| *value != Json::Null))
    }

    fn required(&mut self, name: &str) -> Result<Json<'a>, String> {
        self.take(name)?
            .ok_or_else(|| format!("missing field `{name}`"))
    }

    pub fn string(&mut self, name: &str) -> Result<String, String> {
        let value = self.required(name)?;
        read_string(name, value)
    }

    pub fn opt_string(&mut self, name: &str) -> Result<Option<String>, String> {
        self.take(name)?
            .map(|value| read_string(name, value))
            .transpose()
    }

    pub fn u64(&mut self, name: &str) -> Result<u64, String> {
        let value = self.required(name)?;
        read_u64(name, value, u64::MAX)
    }

    pub fn opt_u64(&mut self, name: &str) -> Result<Option<u64>, String> {
        self.take(name)?
            .map(|value| read_u64(name, value, u64::MAX))
            .transpose()
    }

    pub fn u32(&mut self, name: &str) -> Result<u32, String> {
        let value = self.required(name)?;
        // Within u32 by the bound.
        read_u64(name, value, u64::from(u32::MAX)).map(|value| value as u32)
    }

    /// An amount: a JSON number, or a string holding one.
    pub fn money(&mut self, name: &str) -> Result<Money, String> {
        let text = match self.required(name)? {
            Json::Number(text) | Json::String(text) => text,
            other => return Err(invalid_type(name, "a decimal amount", &other)),
        };
        Money::parse(&text).map_err(|error| format!("invalid amount for `{name}`: {error}"))
    }

    /// An object read by `read`, or `None` when absent or null.
    pub fn opt_object<T: Read>(&mut self, name: &str) -> Result<Option<T>, String> {
        self.take(name)?
            .map(|value| read_object(value, || format!("`{name}`")))
            .transpose()
    }

    /// An array of objects each read by `read`; empty when absent (not when null).
    pub fn objects<T: Read>(&mut self, name: &str) -> Result<Vec<T>, String> {
        let items = match self.take(name)? {
            Some(Json::Array(items)) => items,
            // A null field is still there (taken, null left behind); an absent one is not.
            None if !self.fields.iter().any(|(key, _)| same(key, name)) => return Ok(Vec::new()),
            other => {
                return Err(invalid_type(
                    name,
                    "an array",
                    other.as_ref().unwrap_or(&Json::Null),
                ));
            }
        };
        let mut objects = Vec::with_capacity(items.len());
        for (index, item) in items.into_iter().enumerate() {
            objects.push(
                read_object(item, || format!("`{name}[{index}]`"))
                    .map_err(|error| format!("in `{name}[{index}]`: {error}"))?,
            );
        }
        Ok(objects)
    }
}

/// Whether two names are the same, compared inline eight bytes at a time (the slices' `==`
/// calls the C library's `memcmp`, a byte loop in the component).
#[inline(always)]
fn same(left: &str, right: &str) -> bool {
    let (mut left, mut right) = (left.as_bytes(), right.as_bytes());
    if left.len() != right.len() {
        return false;
    }
    while let (Some((l, left_rest)), Some((r, right_rest))) = (
        left.split_first_chunk::<8>(),
        right.split_first_chunk::<8>(),
    ) {
        if l != r {
            return false;
        }
        (left, right) = (left_rest, right_rest);
    }
    left.iter().zip(right).all(|(l, r)| l == r)
}

/// What [`Read::read_value`] does, the name for the message made only when it is needed.
fn read_object<T: Read>(value: Json, what: impl FnOnce() -> String) -> Result<T, String> {
    match value {
        Json::Object(fields) => T::read(Fields::new(fields)),
        other => Err(format!(
            "invalid type for {}: expected an object, found {}",
            what(),
            other.kind()
        )),
    }
}

fn read_string(name: &str, value: Json) -> Result<String, String> {
    match value {
        Json::String(text) => Ok(text.into_owned()),
        other => Err(invalid_type(name, "a string", &other)),
    }
}

/// A whole number from 0 to `max`.
fn read_u64(name: &str, value: Json, max: u64) -> Result<u64, String> {
    let Json::Number(text) = &value else {
        return Err(invalid_type(name, "a whole number", &value));
    };
    text.parse::<u64>()
        .ok()
        .filter(|number| *number <= max && !text.starts_with('+'))
        .ok_or_else(|| {
            format!(
                "invalid value for `{name}`: expected a whole number from 0 to {max}, found {text}"
            )
        })
}

#[cfg(test)]
mod tests;
