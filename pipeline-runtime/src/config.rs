//! Run-time settings: `--set NAME.KEY=VALUE` and `--config FILE.toml`.
//!
//! Connector options written in the DSL are defaults; these settings
//! override them by source or sink name, so one binary can be pointed at
//! other hosts, files or topics without recompiling.

use crate::ConfigError;
use std::collections::BTreeMap;
use std::path::Path;

/// Overrides of connector settings, by source or sink name.
///
/// # Examples
///
/// ```
/// use pipeline_runtime::config::Settings;
/// let mut s = Settings::default();
/// s.set("lines.port=9999").unwrap();
/// s.set("lines.host=localhost").unwrap();
/// assert_eq!(s.get("lines").unwrap()["port"].as_integer(), Some(9999));
/// assert_eq!(s.get("lines").unwrap()["host"].as_str(), Some("localhost"));
/// assert!(s.set("nodot").is_err());
/// ```
#[derive(Debug, Clone, Default)]
pub struct Settings {
    by_name: BTreeMap<String, toml::Table>,
    /// `parallelism` from a config file, if it set one.
    pub parallelism: Option<usize>,
    /// `state_backend` (`memory` or `rocksdb`) from a config file.
    pub state_backend: Option<String>,
    /// `state_dir` from a config file: where the RocksDB backend works.
    pub state_dir: Option<std::path::PathBuf>,
}

impl Settings {
    /// Adds one `NAME.KEY=VALUE` override. The value is read as a TOML value
    /// (`9999`, `true`, `"text"`, `[1, 2]`), or else taken as a plain string.
    pub fn set(&mut self, assignment: &str) -> Result<(), ConfigError> {
        let invalid = |message: &str| ConfigError::Invalid {
            name: assignment.to_owned(),
            message: message.to_owned(),
        };
        let (path, raw) = assignment
            .split_once('=')
            .ok_or_else(|| invalid("expected NAME.KEY=VALUE, such as `lines.port=9999`"))?;
        let (name, key) = path
            .trim()
            .split_once('.')
            .ok_or_else(|| invalid("expected NAME.KEY=VALUE, such as `lines.port=9999`"))?;
        if name.is_empty() || key.is_empty() {
            return Err(invalid(
                "expected NAME.KEY=VALUE, such as `lines.port=9999`",
            ));
        }
        let raw = raw.trim();
        let value = format!("v = {raw}")
            .parse::<toml::Table>()
            .ok()
            .and_then(|mut t| t.remove("v"))
            .unwrap_or_else(|| toml::Value::String(raw.to_owned()));
        self.by_name
            .entry(name.to_owned())
            .or_default()
            .insert(key.to_owned(), value);
        Ok(())
    }

    /// Reads a TOML file: a table per source or sink name, and optionally a
    /// top-level `parallelism`, `state_backend` and `state_dir`.
    ///
    /// ```toml
    /// parallelism = 4
    /// state_backend = "rocksdb"
    /// [lines]
    /// port = 9999
    /// ```
    pub fn load_file(&mut self, path: &Path) -> Result<(), ConfigError> {
        let err = |message: String| ConfigError::File {
            path: path.to_owned(),
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
        let table: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| err(e.to_string()))?;
        for (name, value) in table {
            match (name.as_str(), value) {
                ("parallelism", toml::Value::Integer(n)) if n >= 1 => {
                    self.parallelism = usize::try_from(n).ok();
                }
                ("parallelism", other) => {
                    return Err(err(format!(
                        "`parallelism` must be a whole number of at least 1, found `{other}`"
                    )));
                }
                ("state_backend", toml::Value::String(b)) if b == "memory" || b == "rocksdb" => {
                    self.state_backend = Some(b);
                }
                ("state_backend", other) => {
                    return Err(err(format!(
                        "`state_backend` must be \"memory\" or \"rocksdb\", found `{other}`"
                    )));
                }
                ("state_dir", toml::Value::String(dir)) => {
                    self.state_dir = Some(dir.into());
                }
                ("state_dir", other) => {
                    return Err(err(format!(
                        "`state_dir` must be a path in quotes, found `{other}`"
                    )));
                }
                (_, toml::Value::Table(t)) => {
                    let entry = self.by_name.entry(name).or_default();
                    for (k, v) in t {
                        entry.entry(k).or_insert(v);
                    }
                }
                (_, other) => {
                    return Err(err(format!(
                        "`{name}` must be a table of settings such as `[{name}]`, found `{other}`"
                    )));
                }
            }
        }
        Ok(())
    }

    /// The overrides for `name`, if any.
    pub fn get(&self, name: &str) -> Option<&toml::Table> {
        self.by_name.get(name)
    }

    /// Names that have overrides.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.by_name.keys().map(String::as_str)
    }

    /// Merges the overrides for `name` into `defaults`.
    pub(crate) fn resolve<S>(&self, name: &str, defaults: S) -> Result<S, ConfigError>
    where
        S: serde::Serialize + serde::de::DeserializeOwned,
    {
        let invalid = |message: String| ConfigError::Invalid {
            name: name.to_owned(),
            message,
        };
        let Some(overrides) = self.by_name.get(name) else {
            return Ok(defaults);
        };
        let mut table = toml::Table::try_from(&defaults).map_err(|e| invalid(e.to_string()))?;
        for (k, v) in overrides {
            table.insert(k.clone(), v.clone());
        }
        toml::Value::Table(table)
            .try_into()
            .map_err(|e: toml::de::Error| invalid(e.message().to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::{Deserialize, Serialize};

    #[derive(Debug, Serialize, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Conn {
        host: String,
        port: u16,
    }

    fn conn() -> Conn {
        Conn {
            host: "127.0.0.1".into(),
            port: 1,
        }
    }

    #[test]
    fn overrides_replace_defaults_and_keep_the_rest() {
        let mut s = Settings::default();
        s.set("src.port = 80").unwrap();
        let c = s.resolve("src", conn()).unwrap();
        assert_eq!(
            c,
            Conn {
                host: "127.0.0.1".into(),
                port: 80
            }
        );
        assert_eq!(s.resolve("other", conn()).unwrap(), conn());
    }

    #[test]
    fn unknown_keys_and_bad_values_name_the_setting() {
        let mut s = Settings::default();
        s.set("src.prot=80").unwrap();
        let e = s.resolve("src", conn()).unwrap_err().to_string();
        assert!(e.contains("setting `src`") && e.contains("prot"), "{e}");
        let mut s = Settings::default();
        s.set("src.port=many").unwrap();
        let e = s.resolve("src", conn()).unwrap_err().to_string();
        assert!(e.contains("port") || e.contains("invalid type"), "{e}");
    }

    #[test]
    fn config_files_give_tables_and_parallelism() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "parallelism = 3\n[src]\nport = 7\n").unwrap();
        let mut s = Settings::default();
        s.load_file(&path).unwrap();
        assert_eq!(s.parallelism, Some(3));
        assert_eq!(s.resolve("src", conn()).unwrap().port, 7);
        std::fs::write(&path, "src = 5\n").unwrap();
        let e = Settings::default()
            .load_file(&path)
            .unwrap_err()
            .to_string();
        assert!(e.contains("must be a table"), "{e}");
    }
}
