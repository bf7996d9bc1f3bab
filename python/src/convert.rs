//! Python values and TOML: config dicts to TOML documents and `--set`-style overrides,
//! `config.toml` back to a dict.

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};

/// A Python value as a TOML value: bool, int, float, str (or a path), list or tuple,
/// dict with str keys. `None` has no TOML form: leave the key out instead.
pub(crate) fn to_toml(v: &Bound<'_, PyAny>, key: &str) -> PyResult<toml::Value> {
    if v.is_instance_of::<PyBool>() {
        return Ok(toml::Value::Boolean(v.extract()?));
    }
    if v.is_instance_of::<PyInt>() {
        let n: i64 = v.extract().map_err(|_| {
            PyTypeError::new_err(format!(
                "config key `{key}`: {v} does not fit a 64-bit integer"
            ))
        })?;
        return Ok(toml::Value::Integer(n));
    }
    if v.is_instance_of::<PyFloat>() {
        return Ok(toml::Value::Float(v.extract()?));
    }
    if v.is_instance_of::<PyString>() {
        return Ok(toml::Value::String(v.extract()?));
    }
    if let Ok(d) = v.cast::<PyDict>() {
        return Ok(toml::Value::Table(to_table(d, key)?));
    }
    if v.is_instance_of::<PyList>() || v.is_instance_of::<PyTuple>() {
        let items = v
            .try_iter()?
            .map(|x| to_toml(&x?, key))
            .collect::<PyResult<Vec<_>>>()?;
        return Ok(toml::Value::Array(items));
    }
    // Paths (os.PathLike) as their text.
    let os = v.py().import("os")?;
    if v.is_instance(&os.getattr("PathLike")?)? {
        return Ok(toml::Value::String(
            os.call_method1("fspath", (v,))?.extract()?,
        ));
    }
    let what = if v.is_none() {
        "None has no TOML form (leave the key out)".to_string()
    } else {
        format!("a {} is not a TOML value", v.get_type().name()?)
    };
    Err(PyTypeError::new_err(format!("config key `{key}`: {what}")))
}

/// A dict with str keys as a TOML table (`prefix` names it in errors).
pub(crate) fn to_table(d: &Bound<'_, PyDict>, prefix: &str) -> PyResult<toml::Table> {
    let mut t = toml::Table::new();
    for (k, v) in d.iter() {
        let k: String = k.extract().map_err(|_| {
            PyTypeError::new_err(format!("config keys are strings, got {k:?} in `{prefix}`"))
        })?;
        let full = join(prefix, &k);
        t.insert(k, to_toml(&v, &full)?);
    }
    Ok(t)
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

/// `key=value` overrides (as `--set` takes them) setting every leaf of `table` under
/// `prefix`; a nested table becomes dotted keys.
pub(crate) fn flatten(table: &toml::Table, prefix: &str, out: &mut Vec<String>) {
    for (k, v) in table {
        let key = join(prefix, k);
        match v {
            toml::Value::Table(t) => flatten(t, &key, out),
            v => out.push(format!("{key}={v}")),
        }
    }
}

/// The overrides of a dict of dotted keys (`{"optimizer.epsilon": 10}`); a dict value
/// sets the keys below its key.
pub(crate) fn overrides(d: &Bound<'_, PyDict>) -> PyResult<Vec<String>> {
    let mut out = Vec::new();
    flatten(&to_table(d, "")?, "", &mut out);
    Ok(out)
}

/// A TOML value as a Python object (tables as dicts, datetimes as their text).
pub(crate) fn from_toml<'py>(py: Python<'py>, v: &toml::Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match v {
        toml::Value::String(s) => s.into_pyobject(py)?.into_any(),
        toml::Value::Integer(n) => n.into_pyobject(py)?.into_any(),
        toml::Value::Float(x) => x.into_pyobject(py)?.into_any(),
        toml::Value::Boolean(b) => PyBool::new(py, *b).to_owned().into_any(),
        toml::Value::Datetime(d) => d.to_string().into_pyobject(py)?.into_any(),
        toml::Value::Array(a) => {
            let items = a
                .iter()
                .map(|x| from_toml(py, x))
                .collect::<PyResult<Vec<_>>>()?;
            PyList::new(py, items)?.into_any()
        }
        toml::Value::Table(t) => table_to_dict(py, t)?.into_any(),
    })
}

/// A TOML table as a dict.
pub(crate) fn table_to_dict<'py>(py: Python<'py>, t: &toml::Table) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    for (k, v) in t {
        d.set_item(k, from_toml(py, v)?)?;
    }
    Ok(d)
}

/// The value the overrides `set` (last one wins) or else `table` give a dotted key, as
/// TOML text parses it.
pub(crate) fn lookup(
    table: Option<&toml::Table>,
    set: &[String],
    key: &str,
) -> Option<toml::Value> {
    for item in set.iter().rev() {
        if let Some((k, raw)) = item.split_once('=') {
            if k.trim() == key {
                // A bare word is a string, as `--set` takes it.
                let raw = raw.trim();
                return Some(
                    toml::from_str::<toml::Table>(&format!("v = {raw}"))
                        .ok()
                        .and_then(|mut t| t.remove("v"))
                        .unwrap_or_else(|| toml::Value::String(raw.to_string())),
                );
            }
        }
    }
    let mut cur = table?;
    let parts: Vec<&str> = key.split('.').collect();
    for p in &parts[..parts.len() - 1] {
        cur = cur.get(*p)?.as_table()?;
    }
    cur.get(parts[parts.len() - 1]).cloned()
}
