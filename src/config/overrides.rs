//! `--set key=value` overrides on a TOML table.

use super::error::ConfigError;

/// Applies one `a.b.c=value` override to a TOML table.
pub(super) fn apply_override(table: &mut toml::Table, item: &str) -> Result<(), ConfigError> {
    let (key, raw) = item
        .split_once('=')
        .ok_or_else(|| ConfigError::Invalid(format!("--set `{item}`: expected key=value")))?;
    let key = key.trim();
    let raw = raw.trim();
    if key.is_empty() {
        return Err(ConfigError::Invalid(format!("--set `{item}`: empty key")));
    }
    let value = match toml::from_str::<toml::Table>(&format!("v = {raw}")) {
        Ok(mut t) => t.remove("v").expect("parsed key"),
        Err(_) => toml::Value::String(raw.to_string()),
    };
    let parts: Vec<&str> = key.split('.').collect();
    let mut cur = table;
    for part in &parts[..parts.len() - 1] {
        let entry = cur
            .entry(part.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        cur = entry.as_table_mut().ok_or_else(|| {
            ConfigError::Invalid(format!("--set `{key}`: `{part}` is not a section"))
        })?;
    }
    cur.insert(parts[parts.len() - 1].to_string(), value);
    Ok(())
}
