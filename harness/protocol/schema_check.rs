//! Test-only: whether a JSON value conforms to a node of PROTOCOL.schema.json. The subset of
//! JSON Schema 2020-12 that the schema uses, each keyword checked, so that a field the
//! schema lacks, a wrong type, enum or pattern fails a test instead of passing unseen.

use serde_json::Value as V;

/// The protocol's JSON Schema.
pub fn schema() -> V {
    serde_json::from_str(include_str!("../../PROTOCOL.schema.json")).expect("the schema is JSON")
}

/// `value` against the schema's `$defs/def`.
pub fn conforms_to(root: &V, def: &str, value: &V) -> Result<(), String> {
    let node = serde_json::json!({ "$ref": format!("#/$defs/{def}") });
    conforms(root, &node, value, def)
}

/// Whether `value` conforms to the schema `node` (resolving `$ref` in `root`): every nested
/// object has its required keys and no key its `properties` lack (unless
/// `additionalProperties` allows it: `true`, or a schema each extra value must meet), every
/// value has its `type`, `const`, `enum`, `pattern`, `minLength`, `minimum`/`maximum`; `not`
/// fails when its schema fits, `oneOf` needs one branch that fits; arrays' items conform, with
/// `minItems`/`maxItems`. `Err` names the path of the first disagreement.
pub fn conforms(root: &V, node: &V, value: &V, path: &str) -> Result<(), String> {
    if let Some(r) = node.get("$ref").and_then(V::as_str) {
        let name = r.strip_prefix("#/$defs/").expect("local refs only");
        let target = root["$defs"]
            .get(name)
            .ok_or_else(|| format!("{path}: no $defs/{name}"))?;
        conforms(root, target, value, path)?;
    }
    if let Some(branches) = node.get("oneOf").and_then(V::as_array) {
        let errs: Vec<String> = branches
            .iter()
            .filter_map(|b| conforms(root, b, value, path).err())
            .collect();
        if errs.len() == branches.len() {
            return Err(format!(
                "{path}: fits no branch of oneOf ({})",
                errs.join(" | ")
            ));
        }
    }
    if let Some(not) = node.get("not")
        && conforms(root, not, value, path).is_ok()
    {
        return Err(format!("{path}: {value} is what `not` refuses ({not})"));
    }
    if let Some(c) = node.get("const")
        && c != value
    {
        return Err(format!("{path}: {value} is not {c}"));
    }
    if let Some(e) = node.get("enum").and_then(V::as_array)
        && !e.contains(value)
    {
        return Err(format!("{path}: {value} is not one of {e:?}"));
    }
    check_type(node, value, path)?;
    check_bounds(node, value, path)?;
    if let Some(obj) = value.as_object() {
        let props = node.get("properties").and_then(V::as_object);
        for req in node
            .get("required")
            .and_then(V::as_array)
            .into_iter()
            .flatten()
        {
            let req = req.as_str().unwrap_or_default();
            if !obj.contains_key(req) {
                return Err(format!("{path}: required `{req}` missing"));
            }
        }
        let extra = node.get("additionalProperties");
        // An object node that names no properties and no rule for others is open.
        let closed = props.is_some() || extra.is_some();
        for (k, v) in obj {
            let at = format!("{path}.{k}");
            match (props.and_then(|p| p.get(k)), extra) {
                (Some(p), _) => conforms(root, p, v, &at)?,
                (None, Some(V::Bool(true))) => {}
                (None, Some(V::Bool(false))) => {
                    return Err(format!("{path}: `{k}` is not in the schema"));
                }
                (None, Some(rule)) => conforms(root, rule, v, &at)?,
                (None, None) if closed => {
                    return Err(format!("{path}: `{k}` is not in the schema"));
                }
                (None, None) => {}
            }
        }
    }
    if let (Some(items), Some(arr)) = (node.get("items"), value.as_array()) {
        for (i, v) in arr.iter().enumerate() {
            conforms(root, items, v, &format!("{path}[{i}]"))?;
        }
    }
    Ok(())
}

fn check_type(node: &V, value: &V, path: &str) -> Result<(), String> {
    let Some(t) = node.get("type") else {
        return Ok(());
    };
    let types: Vec<&str> = match t {
        V::String(s) => vec![s.as_str()],
        V::Array(a) => a.iter().filter_map(V::as_str).collect(),
        _ => vec![],
    };
    let fits = |ty: &str| match ty {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        "null" => value.is_null(),
        _ => false,
    };
    if types.iter().any(|t| fits(t)) {
        Ok(())
    } else {
        Err(format!("{path}: {value} is not of type {types:?}"))
    }
}

fn check_bounds(node: &V, value: &V, path: &str) -> Result<(), String> {
    if let Some(n) = value.as_f64() {
        if let Some(min) = node.get("minimum").and_then(V::as_f64)
            && n < min
        {
            return Err(format!("{path}: {value} is below the minimum {min}"));
        }
        if let Some(max) = node.get("maximum").and_then(V::as_f64)
            && n > max
        {
            return Err(format!("{path}: {value} is above the maximum {max}"));
        }
    }
    if let Some(s) = value.as_str() {
        if let Some(min) = node.get("minLength").and_then(V::as_u64)
            && (s.chars().count() as u64) < min
        {
            return Err(format!("{path}: {value} is shorter than {min}"));
        }
        if let Some(p) = node.get("pattern").and_then(V::as_str) {
            let re = regex::Regex::new(p).map_err(|e| format!("{path}: bad pattern {p}: {e}"))?;
            if !re.is_match(s) {
                return Err(format!("{path}: {value} does not match {p}"));
            }
        }
    }
    if let Some(a) = value.as_array() {
        let n = a.len() as u64;
        if node
            .get("minItems")
            .and_then(V::as_u64)
            .is_some_and(|m| n < m)
            || node
                .get("maxItems")
                .and_then(V::as_u64)
                .is_some_and(|m| n > m)
        {
            return Err(format!("{path}: {n} items is outside minItems/maxItems"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_checker_refuses_what_each_keyword_forbids() {
        let root = schema();
        let want =
            |action: V| serde_json::json!({"msg":"want","worker":1,"actor":0,"action":action});
        let refused = [
            serde_json::json!({"kind":"begin","extra":1}),
            serde_json::json!({"kind":"nope"}),
            serde_json::json!({"kind":"flock","lock":"a/b"}),
            serde_json::json!({"kind":"flock","lock":""}),
            serde_json::json!({"kind":"flock","lock":".."}),
            serde_json::json!({"kind":"statement"}),
        ];
        for a in refused {
            assert!(conforms_to(&root, "want", &want(a.clone())).is_err(), "{a}");
        }
        let bad_worker = serde_json::json!({"msg":"done","worker":-1});
        assert!(conforms_to(&root, "done", &bad_worker).is_err());
        let bad_counts = serde_json::json!({"msg":"io_counters","worker":1,"counts":{"total":{"wal":{"write":"x"}}}});
        assert!(conforms_to(&root, "io_counters", &bad_counts).is_err());
        for a in [
            serde_json::json!({"kind":"write","label":"x"}),
            serde_json::json!({"kind":"flock","lock":"app.lock"}),
            serde_json::json!({"kind":"flock"}),
        ] {
            conforms_to(&root, "want", &want(a)).unwrap();
        }
    }
}
