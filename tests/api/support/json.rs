//! Whole-body JSON comparison and GitHub's error bodies, for the tests' assertions.

use serde_json::{Value, json};

use super::Reply;

// ---------------------------------------------------------------------------------------------
// Whole-body JSON comparison
// ---------------------------------------------------------------------------------------------

/// In an expected body: a `YYYY-MM-DDTHH:MM:SSZ` timestamp.
pub const TIMESTAMP: &str = "<timestamp>";
/// In an expected body: any string (for values the docs leave open).
pub const ANY_STRING: &str = "<any string>";
/// In an expected body: any absolute http(s) URL (for values the docs leave open).
pub const ANY_URL: &str = "<any url>";

/// Asserts that `actual` has exactly the fields of `expected` (no more, no fewer, recursively),
/// with equal values, except for the `TIMESTAMP`, `ANY_STRING` and `ANY_URL` placeholders.
#[track_caller]
pub fn assert_json(actual: &Value, expected: &Value) {
    if let Err(e) = compare(actual, expected, "$") {
        panic!(
            "{e}\n  actual:   {}\n  expected: {}",
            serde_json::to_string(actual).unwrap_or_default(),
            serde_json::to_string(expected).unwrap_or_default()
        );
    }
}

fn compare(actual: &Value, expected: &Value, at: &str) -> Result<(), String> {
    match (expected, actual) {
        (Value::String(e), Value::String(a)) if e == TIMESTAMP => {
            if is_timestamp(a) {
                Ok(())
            } else {
                Err(format!(
                    "{at}: {a:?} is not a YYYY-MM-DDTHH:MM:SSZ timestamp"
                ))
            }
        }
        (Value::String(e), Value::String(_)) if e == ANY_STRING => Ok(()),
        (Value::String(e), Value::String(a)) if e == ANY_URL => {
            if a.starts_with("http://") || a.starts_with("https://") {
                Ok(())
            } else {
                Err(format!("{at}: {a:?} is not an http(s) URL"))
            }
        }
        (Value::Object(e), Value::Object(a)) => {
            if let Some(key) = e.keys().find(|k| !a.contains_key(*k)) {
                return Err(format!("{at}: field {key:?} is missing"));
            }
            if let Some(key) = a.keys().find(|k| !e.contains_key(*k)) {
                return Err(format!("{at}: unexpected field {key:?}"));
            }
            for (key, ev) in e {
                compare(&a[key], ev, &format!("{at}.{key}"))?;
            }
            Ok(())
        }
        (Value::Array(e), Value::Array(a)) => {
            if e.len() != a.len() {
                return Err(format!("{at}: {} elements, expected {}", a.len(), e.len()));
            }
            for (i, (av, ev)) in a.iter().zip(e).enumerate() {
                compare(av, ev, &format!("{at}[{i}]"))?;
            }
            Ok(())
        }
        _ if actual == expected => Ok(()),
        _ => Err(format!("{at}: {actual} instead of {expected}")),
    }
}

/// `^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$`
pub fn is_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 20
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b'T',
            13 | 16 => *c == b':',
            19 => *c == b'Z',
            _ => c.is_ascii_digit(),
        })
}

/// `base` with the top-level fields of `over` written over it.
pub fn merge(mut base: Value, over: Value) -> Value {
    if let (Value::Object(b), Value::Object(o)) = (&mut base, over) {
        for (k, v) in o {
            b.insert(k, v);
        }
    }
    base
}

/// GitHub's error body: `{"message", "documentation_url", "status"}`.
pub fn error_body(status: u16, message: &str) -> Value {
    json!({ "message": message, "documentation_url": ANY_URL, "status": status.to_string() })
}

/// GitHub's 422 body with its `errors`.
pub fn validation_failed(errors: Value) -> Value {
    json!({
        "message": "Validation Failed",
        "documentation_url": ANY_URL,
        "status": "422",
        "errors": errors,
    })
}

/// Asserts a 422 "Validation Failed" whose only error is `code` on `field`. The docs fix the
/// `resource` only for a personal token's note (`OauthAccess`), so it is checked when given.
#[track_caller]
pub fn assert_validation_error(reply: &Reply, resource: Option<&str>, field: &str, code: &str) {
    let body = reply.expect_status(422);
    let resource = resource.unwrap_or(ANY_STRING);
    assert_json(
        &body,
        &validation_failed(json!([{ "resource": resource, "field": field, "code": code }])),
    );
}

#[track_caller]
pub fn assert_not_found(reply: &Reply) {
    let body = reply.expect_status(404);
    assert_json(&body, &error_body(404, "Not Found"));
}

#[track_caller]
pub fn id_of(body: &Value) -> i64 {
    body["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("no integer id in {body}"))
}

#[track_caller]
pub fn str_of<'a>(body: &'a Value, field: &str) -> &'a str {
    body[field]
        .as_str()
        .unwrap_or_else(|| panic!("no string {field:?} in {body}"))
}
