//! Minifies the tools' JSON schemas into OUT_DIR (whitespace outside strings dropped): the
//! component carries them as text, and the host reads them as JSON, so layout is only bytes.

use std::env;
use std::fs;
use std::path::PathBuf;

fn main() {
    let source = PathBuf::from("src/tools/schemas");
    println!("cargo:rerun-if-changed={}", source.display());
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR")).join("schemas");
    fs::create_dir_all(&out).expect("create OUT_DIR/schemas");
    for entry in fs::read_dir(&source).expect("read src/tools/schemas") {
        let path = entry.expect("list src/tools/schemas").path();
        if path
            .extension()
            .is_some_and(|extension| extension == "json")
        {
            let text = fs::read_to_string(&path).expect("read a schema");
            let name = path.file_name().expect("a schema file has a name");
            fs::write(out.join(name), minify(&text)).expect("write a minified schema");
        }
    }
}

/// The JSON text without insignificant whitespace; strings (escapes included) stay as written.
fn minify(json: &str) -> String {
    let mut minified = String::with_capacity(json.len());
    let mut in_string = false;
    let mut escaped = false;
    for c in json.chars() {
        if in_string {
            minified.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
            minified.push(c);
        } else if !matches!(c, ' ' | '\n' | '\r' | '\t') {
            minified.push(c);
        }
    }
    minified
}
