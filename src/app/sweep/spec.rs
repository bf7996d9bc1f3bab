//! What a sweep runs: the sweep file and the command line merged into a base config,
//! fixed overrides, axes (their cartesian product are the cells) and seeds.
//!
//! ```toml
//! base = "configs/acrobot.toml"   # relative to the current directory; default: built-in
//! seeds = [0, 1, 2]
//! target_return = -100.0          # optional: success, time to target, drawdown
//! last_k = 5                      # final return = mean of the last k eval returns
//! env_steps_budget = 2000000      # optional: score each run up to this many env steps,
//!                                 # or "fewest": the fewest any complete run took
//! out = "sweeps/acrobot"          # optional: the sweep directory
//! [set]                           # fixed overrides, as --set
//! generations = 40
//! [axes]                          # any config key = the values it takes
//! "optimizer.rule" = ["satr", "ec"]
//! population = [8, 32]
//! # A value may be a named variant: a table of overrides applied together.
//! rule = [{ name = "ec", "optimizer.rule" = "ec" },
//!         { name = "satr-e5", "optimizer.rule" = "satr", "optimizer.epsilon" = 5.0 }]
//! ```

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::SweepError;

/// The final return averages this many last generations unless told otherwise.
pub const DEFAULT_LAST_K: usize = 5;

/// One axis: a config key and the values it takes.
#[derive(Debug, Clone, PartialEq)]
pub struct Axis {
    pub key: String,
    pub values: Vec<toml::Value>,
}

/// One combination of axis values (in axis order).
#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    pub values: Vec<(String, toml::Value)>,
}

impl Cell {
    /// `key=value key=value`, or `base` with no axes.
    pub fn label(&self) -> String {
        if self.values.is_empty() {
            return "base".into();
        }
        self.values
            .iter()
            .map(|(k, v)| format!("{k}={}", value_text(v)))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The folder of the cell's runs: `key-value_key-value` with every character but
    /// letters, digits, `.` and `-` replaced by `-` (`base` with no axes).
    pub fn dir_name(&self) -> String {
        if self.values.is_empty() {
            return "base".into();
        }
        self.values
            .iter()
            .map(|(k, v)| {
                format!("{k}-{}", value_text(v))
                    .chars()
                    .map(|c| {
                        if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                            c
                        } else {
                            '-'
                        }
                    })
                    .collect::<String>()
            })
            .collect::<Vec<_>>()
            .join("_")
    }

    /// The cell as `--set` overrides (a variant's overrides in its table's key order).
    pub fn overrides(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (k, v) in &self.values {
            match v {
                toml::Value::Table(t) => {
                    let mut pairs = Vec::new();
                    flatten("", t, &mut pairs);
                    out.extend(
                        pairs
                            .into_iter()
                            .filter(|(key, _)| key != VARIANT_NAME)
                            .map(|(key, v)| format!("{key}={v}")),
                    );
                }
                v => out.push(format!("{k}={v}")),
            }
        }
        out
    }
}

/// The key naming a variant (a table value of an axis).
pub const VARIANT_NAME: &str = "name";

/// A value as a reader writes it: strings without quotes, a variant by its name.
pub fn value_text(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        toml::Value::Table(t) => match t.get(VARIANT_NAME) {
            Some(toml::Value::String(s)) => s.clone(),
            _ => "unnamed".into(),
        },
        v => v.to_string(),
    }
}

/// Up to how many env steps each run is scored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepsBudget {
    /// A fixed number.
    Steps(u64),
    /// The fewest env steps any complete run of the sweep took (`"fewest"`): every run
    /// is scored at the same environment-step count, whatever its episode lengths.
    Fewest,
}

/// A complete sweep.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepSpec {
    /// The base config file (`None`: the built-in default).
    pub base: Option<PathBuf>,
    /// Overrides applied to every run (before the cell's values).
    pub set: Vec<String>,
    pub axes: Vec<Axis>,
    pub seeds: Vec<u64>,
    /// The return that counts as success (default: the base config's `run.target_return`).
    pub target_return: Option<f64>,
    pub last_k: usize,
    /// Score each run only on its generations up to this many env steps (so that
    /// cells compare at equal environment steps whatever their episode lengths).
    pub env_steps_budget: Option<StepsBudget>,
    /// The sweep directory named in the file.
    pub out: Option<PathBuf>,
}

/// The sweep file as written (axes are taken in key order, then the command line's
/// new ones in theirs).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SweepFile {
    base: Option<String>,
    seeds: Option<Vec<u64>>,
    target_return: Option<f64>,
    last_k: Option<usize>,
    env_steps_budget: Option<toml::Value>,
    out: Option<String>,
    #[serde(default)]
    set: toml::Table,
    #[serde(default)]
    axes: toml::Table,
}

/// Flattens nested tables into dotted keys (`[axes.optimizer] rule = ..` and
/// `"optimizer.rule" = ..` mean the same).
fn flatten(prefix: &str, table: &toml::Table, out: &mut Vec<(String, toml::Value)>) {
    for (k, v) in table {
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match v {
            toml::Value::Table(t) => flatten(&key, t, out),
            v => out.push((key, v.clone())),
        }
    }
}

/// Parses one command-line value as TOML, a bare word as a string (as `--set` does).
fn parse_value(raw: &str) -> toml::Value {
    match toml::from_str::<toml::Table>(&format!("v = {raw}")) {
        Ok(mut t) => t.remove("v").expect("parsed key"),
        Err(_) => toml::Value::String(raw.trim().to_string()),
    }
}

/// Parses `0,1,2` (or `0..5`, end excluded).
pub fn parse_seeds(text: &str) -> Result<Vec<u64>, SweepError> {
    let bad = || SweepError::Spec(format!("--seeds `{text}`: expected 0,1,2 or 0..5"));
    if let Some((a, b)) = text.split_once("..") {
        let a: u64 = a.trim().parse().map_err(|_| bad())?;
        let b: u64 = b.trim().parse().map_err(|_| bad())?;
        return Ok((a..b).collect());
    }
    text.split(',')
        .map(|s| s.trim().parse().map_err(|_| bad()))
        .collect()
}

impl SweepSpec {
    /// The sweep of `file` (if any) with the command line's `--set`, `--axis key=v1,v2`
    /// (replacing the file's axis of that key) and seeds on top.
    pub fn load(
        file: Option<&Path>,
        base: Option<&Path>,
        set: &[String],
        axes: &[String],
        seeds: Option<Vec<u64>>,
    ) -> Result<Self, SweepError> {
        let mut spec = match file {
            Some(p) => Self::from_file(p)?,
            None => SweepSpec {
                base: None,
                set: Vec::new(),
                axes: Vec::new(),
                seeds: vec![0],
                target_return: None,
                last_k: DEFAULT_LAST_K,
                env_steps_budget: None,
                out: None,
            },
        };
        if let Some(b) = base {
            spec.base = Some(b.to_path_buf());
        }
        spec.set.extend(set.iter().cloned());
        for a in axes {
            let (key, values) = a.split_once('=').ok_or_else(|| {
                SweepError::Spec(format!("--axis `{a}`: expected key=value1,value2,..."))
            })?;
            let axis = Axis {
                key: key.trim().to_string(),
                values: values.split(',').map(parse_value).collect(),
            };
            match spec.axes.iter_mut().find(|x| x.key == axis.key) {
                Some(x) => *x = axis,
                None => spec.axes.push(axis),
            }
        }
        if let Some(s) = seeds {
            spec.seeds = s;
        }
        spec.check()?;
        Ok(spec)
    }

    /// Reads a sweep file.
    pub fn from_file(path: &Path) -> Result<Self, SweepError> {
        let at = |m: String| SweepError::Spec(format!("{}: {m}", path.display()));
        let text = std::fs::read_to_string(path).map_err(|e| at(format!("cannot read: {e}")))?;
        let f: SweepFile = toml::from_str(&text).map_err(|e| at(e.to_string()))?;
        let mut set = Vec::new();
        flatten("", &f.set, &mut set);
        let mut axes = Vec::new();
        flatten("", &f.axes, &mut axes);
        let axes = axes
            .into_iter()
            .map(|(key, v)| match v {
                toml::Value::Array(values) => Ok(Axis { key, values }),
                v => Err(at(format!(
                    "axis `{key}` = {v}: expected a list of values, e.g. [1, 2]"
                ))),
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(SweepSpec {
            base: f.base.map(PathBuf::from),
            set: set.into_iter().map(|(k, v)| format!("{k}={v}")).collect(),
            axes,
            seeds: f.seeds.unwrap_or_else(|| vec![0]),
            target_return: f.target_return,
            last_k: f.last_k.unwrap_or(DEFAULT_LAST_K),
            env_steps_budget: f
                .env_steps_budget
                .map(|v| match v {
                    toml::Value::Integer(n) if n >= 1 => Ok(StepsBudget::Steps(n as u64)),
                    toml::Value::String(s) if s == "fewest" => Ok(StepsBudget::Fewest),
                    v => Err(at(format!(
                        "env_steps_budget = {v}: expected a number of steps >= 1 or \"fewest\""
                    ))),
                })
                .transpose()?,
            out: f.out.map(PathBuf::from),
        })
    }

    fn check(&self) -> Result<(), SweepError> {
        if self.seeds.is_empty() {
            return Err(SweepError::Spec("the seed list is empty".into()));
        }
        let mut seen = std::collections::BTreeSet::new();
        if self.seeds.iter().any(|s| !seen.insert(*s)) {
            return Err(SweepError::Spec(format!(
                "seeds {:?} name a seed twice",
                self.seeds
            )));
        }
        if self.last_k == 0 {
            return Err(SweepError::Spec("last_k must be >= 1".into()));
        }
        for a in &self.axes {
            if a.key.is_empty() {
                return Err(SweepError::Spec("an axis has an empty key".into()));
            }
            if a.values.is_empty() {
                return Err(SweepError::Spec(format!("axis `{}` has no values", a.key)));
            }
            if a.key == "seed" {
                return Err(SweepError::Spec(
                    "axis `seed`: give seeds as `seeds = [..]` or --seeds".into(),
                ));
            }
            if a.key.starts_with("run.") {
                return Err(SweepError::Spec(format!(
                    "axis `{}`: the sweep places its runs itself",
                    a.key
                )));
            }
            for v in &a.values {
                if let toml::Value::Table(t) = v {
                    check_variant(&a.key, t)?;
                }
            }
        }
        Ok(())
    }

    /// The cells: the cartesian product of the axes, the first axis slowest.
    pub fn cells(&self) -> Vec<Cell> {
        let mut cells = vec![Cell { values: Vec::new() }];
        for a in &self.axes {
            cells = cells
                .into_iter()
                .flat_map(|c| {
                    a.values.iter().map(move |v| {
                        let mut values = c.values.clone();
                        values.push((a.key.clone(), v.clone()));
                        Cell { values }
                    })
                })
                .collect();
        }
        cells
    }
}

/// A variant needs a string `name` and at least one override, none of them placing runs.
fn check_variant(axis: &str, t: &toml::Table) -> Result<(), SweepError> {
    let bad = |m: &str| SweepError::Spec(format!("axis `{axis}`: a variant {m}"));
    match t.get(VARIANT_NAME) {
        Some(toml::Value::String(s)) if !s.trim().is_empty() => {}
        _ => return Err(bad("needs `name = \"...\"` (a non-empty string)")),
    }
    let mut pairs = Vec::new();
    flatten("", t, &mut pairs);
    let keys: Vec<_> = pairs
        .iter()
        .map(|(k, _)| k.as_str())
        .filter(|k| *k != VARIANT_NAME)
        .collect();
    if keys.is_empty() {
        return Err(bad("sets no config key"));
    }
    if let Some(k) = keys.iter().find(|k| **k == "seed" || k.starts_with("run.")) {
        return Err(bad(&format!("sets `{k}`, which the sweep sets itself")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_multiply_and_name_their_cells() {
        let spec = SweepSpec::load(
            None,
            None,
            &[],
            &["optimizer.rule=ec,satr".into(), "population=8,16,32".into()],
            Some(parse_seeds("0..3").unwrap()),
        )
        .unwrap();
        assert_eq!(spec.seeds, vec![0, 1, 2]);
        let cells = spec.cells();
        assert_eq!(cells.len(), 6);
        assert_eq!(cells[1].label(), "optimizer.rule=ec population=16");
        assert_eq!(cells[1].dir_name(), "optimizer.rule-ec_population-16");
        assert_eq!(
            cells[5].overrides(),
            vec!["optimizer.rule=\"satr\"", "population=32"]
        );
        let e = SweepSpec::load(None, None, &[], &["seed=1,2".into()], None).unwrap_err();
        assert!(e.to_string().contains("seed"), "{e}");
        assert!(parse_seeds("1,x").is_err());
    }

    #[test]
    fn the_file_flattens_nested_keys() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.toml");
        std::fs::write(
            &p,
            "seeds = [3, 4]\nlast_k = 2\n[set]\ngenerations = 3\n[axes]\n\"optimizer.epsilon\" = [1.0, 2.5]\n[axes.network]\nneurons = [16]\n",
        )
        .unwrap();
        let spec =
            SweepSpec::load(Some(&p), None, &[], &["network.neurons=24".into()], None).unwrap();
        assert_eq!(spec.set, vec!["generations=3"]);
        assert_eq!(spec.axes.len(), 2);
        // The file's axes in key order; the command line's replace them in place.
        assert_eq!(spec.axes[0].key, "network.neurons");
        assert_eq!(spec.axes[0].values, vec![toml::Value::Integer(24)]);
        assert_eq!(
            spec.cells()[1].label(),
            "network.neurons=24 optimizer.epsilon=2.5"
        );
        std::fs::write(&p, "[axes]\npopulation = 8\n").unwrap();
        let e = SweepSpec::from_file(&p).unwrap_err().to_string();
        assert!(e.contains("population") && e.contains("s.toml"), "{e}");
        std::fs::write(&p, "seedz = [1]\n").unwrap();
        let e = SweepSpec::from_file(&p).unwrap_err().to_string();
        assert!(e.contains("seedz"), "{e}");
    }

    #[test]
    fn a_variant_sets_its_keys_together_under_its_name() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("v.toml");
        std::fs::write(
            &p,
            "[axes]\npopulation = [8]\nrule = [{ name = \"ec lr\", \"optimizer.rule\" = \"ec\", optimizer = { lr = 0.1 } }, { name = \"satr\", \"optimizer.rule\" = \"satr\" }]\n",
        )
        .unwrap();
        let spec = SweepSpec::load(Some(&p), None, &[], &[], None).unwrap();
        let cells = spec.cells();
        assert_eq!(cells.len(), 2);
        assert_eq!(cells[0].label(), "population=8 rule=ec lr");
        assert_eq!(cells[0].dir_name(), "population-8_rule-ec-lr");
        assert_eq!(
            cells[0].overrides(),
            vec!["population=8", "optimizer.lr=0.1", "optimizer.rule=\"ec\""]
        );
        for (bad, why) in [
            ("rule = [{ \"optimizer.rule\" = \"ec\" }]", "name"),
            ("rule = [{ name = \"x\" }]", "no config key"),
            ("rule = [{ name = \"x\", seed = 3 }]", "seed"),
            (
                "rule = [{ name = \"x\", run = { name = \"y\" } }]",
                "run.name",
            ),
        ] {
            std::fs::write(&p, format!("[axes]\n{bad}\n")).unwrap();
            let e = SweepSpec::load(Some(&p), None, &[], &[], None).unwrap_err();
            assert!(e.to_string().contains(why), "{bad}: {e}");
        }
    }
}
