//! The embedded catalog is written in TOML (`catalog/models.toml`, sizeup's own format,
//! made by the `catalog` example); it is embedded as JSON, which reads about twenty
//! times faster, so a command that looks up one model does not spend tens of
//! milliseconds parsing 137 of them.

use std::path::Path;

fn main() {
    let source = "catalog/models.toml";
    println!("cargo:rerun-if-changed={source}");
    let text = std::fs::read_to_string(source).expect("catalog/models.toml");
    let value: toml::Value = toml::from_str(&text).expect("catalog/models.toml is valid TOML");
    let json = serde_json::to_string(&value).expect("the catalog converts to JSON");
    let out = std::env::var("OUT_DIR").expect("OUT_DIR");
    std::fs::write(Path::new(&out).join("models.json"), json).expect("write models.json");
}
