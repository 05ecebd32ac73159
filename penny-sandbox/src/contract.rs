//! A contract check of the sandbox against Pennylane's published specs: every request
//! it receives against the endpoint's parameters in the Company API v2 reference
//! (`company-v2-endpoints.json`), every response it serves against the response schema
//! of the same resource in the Firm API's OpenAPI file (`firm-v1.json`, whose resource
//! shapes are the Company API's).
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use penny_sandbox::{Contract, Sandbox, SandboxConfig};
//! let sandbox = Sandbox::builder(SandboxConfig::default())
//!     .contract(Contract::from_env()?)
//!     .start()
//!     .await?;
//! // ... drive it ...
//! assert!(sandbox.violations().is_empty(), "{:?}", sandbox.violations());
//! # Ok(()) }
//! ```
//!
//! The validator covers the subset of OpenAPI 3 / JSON schema the Firm file uses:
//! `$ref` (local), `type`, `properties`, `required`, `additionalProperties: false`,
//! `nullable`, `enum`, `items`, `allOf`, `anyOf`, `oneOf`, the formats `date` and
//! `date-time`, and the decimal-string pattern of amounts. Other patterns and keywords
//! are not checked. Endpoints the Firm file does not describe (products, invoice lines,
//! payments, `/me`...) have no response schema: their responses are listed by
//! [`Sandbox::unchecked_endpoints`](crate::Sandbox::unchecked_endpoints), not judged.
//! Where the Firm API pages with `page`/`per_page` and the Company API with a cursor
//! (trial balance, fiscal years), the items are checked against the Firm schema and the
//! envelope against the cursor envelope.

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate};
use serde_json::{Map, Value};

use crate::spec::path_matches;

/// The environment variable naming the directory of the spec files.
pub const OPENAPI_DIR_ENV: &str = "PENNY_OPENAPI_DIR";

const COMPANY_FILE: &str = "company-v2-endpoints.json";
const FIRM_FILE: &str = "firm-v1.json";
const COMPANY_PREFIX: &str = "/api/external/v2";
const FIRM_PREFIX: &str = "/api/external/firm/v1/companies/{company_id}";
/// The Firm file's amount pattern (`DecimalString`).
const DECIMAL_PATTERN: &str = r"^(-?\d+(\.\d+)?)?$";

/// What can go wrong loading the specs.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ContractError {
    /// The environment variable is not set.
    #[error(
        "{OPENAPI_DIR_ENV} is not set: set it to the directory holding {COMPANY_FILE} and \
         {FIRM_FILE} (from the repository root: \
         {OPENAPI_DIR_ENV}=\"$(cd .. && pwd)/shared/pennylane/openapi\", i.e. \
         ../shared/pennylane/openapi)"
    )]
    MissingEnv,
    /// A spec file cannot be read.
    #[error("cannot read the spec file {path}: {source} (check {OPENAPI_DIR_ENV})")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A spec file is not the JSON expected.
    #[error("the spec file {path} is not valid: {reason}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

/// One departure from the spec.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Violation {
    /// `request` or `response`.
    pub side: Side,
    /// The endpoint: the method and the concrete path below `/api/external/v2`
    /// (`GET /ledger_entries`).
    pub endpoint: String,
    /// The query parameter or the response field (`filter[0].field`, `items[3].debit`).
    pub field: String,
    /// The rule broken, with the value met.
    pub rule: String,
}

/// Which side of an exchange a [`Violation`] is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Side {
    /// What the client sent.
    Request,
    /// What the sandbox answered.
    Response,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let side = match self.side {
            Side::Request => "request",
            Side::Response => "response",
        };
        write!(
            f,
            "{side} {}: `{}`: {}",
            self.endpoint, self.field, self.rule
        )
    }
}

/// A compact report of `violations`: one line per distinct endpoint template, field
/// and rule (array indexes and ids folded), with how many times it was met.
pub fn summary(violations: &[Violation]) -> String {
    let mut counts: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
    for v in violations {
        let side = match v.side {
            Side::Request => "request",
            Side::Response => "response",
        };
        let line = format!(
            "{side} {}: `{}`: {}",
            fold(&v.endpoint),
            fold(&v.field),
            v.rule
        );
        *counts.entry(line).or_insert(0) += 1;
    }
    let mut text = format!(
        "{} violation(s), {} distinct:\n",
        violations.len(),
        counts.len()
    );
    for (line, n) in counts {
        text.push_str(&format!("  - {line} (x{n})\n"));
    }
    text
}

/// `items[12].x` -> `items[*].x`, `/customers/123/contacts` -> `/customers/{id}/contacts`.
fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        out.push(c);
        if c == '[' || c == '/' {
            let mut digits = String::new();
            while let Some(d) = chars.peek().copied().filter(char::is_ascii_digit) {
                digits.push(d);
                chars.next();
            }
            if !digits.is_empty() {
                out.push_str(if c == '[' { "*" } else { "{id}" });
            }
        }
    }
    out
}

/// The request rules of one Company API endpoint, read from the spec file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecEndpoint {
    /// The path below `/api/external/v2`, with its `{parameters}`.
    pub path: String,
    /// Every query parameter, with whether it is required and its type.
    pub query: Vec<SpecParam>,
    /// `limit`'s maximum, when the endpoint takes a `limit`.
    pub max_limit: Option<usize>,
    /// The filterable fields and their operators (as spelled), when it takes `filter`.
    pub filters: Vec<(String, Vec<String>)>,
    /// The sortable fields, when it takes `sort`.
    pub sorts: Vec<String>,
    /// The values `include` accepts.
    pub includes: Vec<String>,
}

/// A query parameter of a [`SpecEndpoint`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecParam {
    /// Its name.
    pub name: String,
    /// Whether it is required.
    pub required: bool,
    /// Its type (`string`, `integer`, `boolean`...).
    pub kind: String,
}

/// The specs, loaded: what a request may carry and what a response must look like.
#[derive(Debug, Clone)]
pub struct Contract {
    endpoints: Vec<SpecEndpoint>,
    firm: Value,
    firm_paths: Vec<String>,
}

fn read_json(path: &Path) -> Result<Value, ContractError> {
    let text = std::fs::read_to_string(path).map_err(|source| ContractError::Read {
        path: path.to_owned(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|e| ContractError::Invalid {
        path: path.to_owned(),
        reason: e.to_string(),
    })
}

/// The backquoted words of `text`, in order.
fn quoted(text: &str) -> Vec<String> {
    text.split('`')
        .enumerate()
        .filter(|(i, _)| i % 2 == 1)
        .map(|(_, w)| w.trim().to_owned())
        .filter(|w| !w.is_empty())
        .collect()
}

const OPERATORS: &[&str] = &[
    "eq",
    "not_eq",
    "lt",
    "lteq",
    "gt",
    "gteq",
    "in",
    "not_in",
    "start_with",
];

/// The fields and operators of a `filter` parameter's description.
fn parse_filter_description(text: &str) -> Vec<(String, Vec<String>)> {
    // "Available fields : `a`, `b` Available operators : `lt`, ..."
    if let (Some(f), Some(o)) = (
        text.find("Available fields"),
        text.find("Available operators"),
    ) && f < o
    {
        let ops: Vec<String> = quoted(&text[o..])
            .into_iter()
            .filter(|w| OPERATORS.contains(&w.as_str()))
            .collect();
        return quoted(&text[f..o])
            .into_iter()
            .map(|field| (field, ops.clone()))
            .collect();
    }
    // "- `a`, `b`: `eq`, `in`" per line.
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for line in text.lines() {
        let Some(line) = line.trim().strip_prefix("- ") else {
            continue;
        };
        let Some(colon) = line.find(':') else {
            continue;
        };
        let (fields, ops) = line.split_at(colon);
        let ops: Vec<String> = quoted(ops)
            .into_iter()
            .flat_map(|w| {
                // "`lt, lteq, gt`" (several in one quote) happens too.
                w.split(',')
                    .map(|s| s.trim().to_owned())
                    .collect::<Vec<_>>()
            })
            .filter(|w| OPERATORS.contains(&w.as_str()))
            .collect();
        if ops.is_empty() {
            continue;
        }
        for field in quoted(fields) {
            for f in field.split(',').map(str::trim).filter(|f| !f.is_empty()) {
                out.push((f.to_owned(), ops.clone()));
            }
        }
    }
    out
}

fn parse_sort_description(text: &str) -> Vec<String> {
    let Some(at) = text.find("Available fields") else {
        return Vec::new();
    };
    quoted(&text[at..])
        .into_iter()
        .flat_map(|w| {
            w.split(',')
                .map(|s| s.trim().to_owned())
                .collect::<Vec<_>>()
        })
        .filter(|w| !w.is_empty())
        .collect()
}

fn parse_limit_description(text: &str) -> Option<usize> {
    let at = text.find("between 1 and ")? + "between 1 and ".len();
    let digits: String = text[at..]
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    digits.parse().ok()
}

fn parse_include_description(text: &str) -> Vec<String> {
    let Some(at) = text.find("Available includes") else {
        return Vec::new();
    };
    let line = text[at..].lines().next().unwrap_or("");
    quoted(line)
}

fn company_endpoints(spec: &Value, path: &Path) -> Result<Vec<SpecEndpoint>, ContractError> {
    let invalid = |reason: &str| ContractError::Invalid {
        path: path.to_owned(),
        reason: reason.to_owned(),
    };
    let list = spec
        .get("endpoints")
        .and_then(Value::as_array)
        .ok_or_else(|| invalid("no `endpoints` array"))?;
    let mut out = Vec::new();
    for endpoint in list {
        let Some(get) = endpoint.pointer("/methods/get") else {
            continue;
        };
        let full = endpoint
            .get("path")
            .and_then(Value::as_str)
            .ok_or_else(|| invalid("an endpoint without `path`"))?;
        let Some(rest) = full.strip_prefix(COMPANY_PREFIX) else {
            continue;
        };
        let mut e = SpecEndpoint {
            path: rest.to_owned(),
            query: Vec::new(),
            max_limit: None,
            filters: Vec::new(),
            sorts: Vec::new(),
            includes: Vec::new(),
        };
        for param in get
            .get("params")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if param.get("in").and_then(Value::as_str) != Some("query") {
                continue;
            }
            let name = param.get("name").and_then(Value::as_str).unwrap_or("");
            let text = param
                .get("description")
                .and_then(Value::as_str)
                .unwrap_or("");
            match name {
                "limit" => e.max_limit = parse_limit_description(text),
                "filter" => e.filters = parse_filter_description(text),
                "sort" => e.sorts = parse_sort_description(text),
                "include" => e.includes = parse_include_description(text),
                _ => {}
            }
            e.query.push(SpecParam {
                name: name.to_owned(),
                required: param.get("required").and_then(Value::as_bool) == Some(true),
                kind: param
                    .get("type")
                    .and_then(Value::as_str)
                    .unwrap_or("string")
                    .to_owned(),
            });
        }
        out.push(e);
    }
    Ok(out)
}

impl Contract {
    /// Loads the specs from the directory named by `PENNY_OPENAPI_DIR`.
    pub fn from_env() -> Result<Contract, ContractError> {
        let dir = std::env::var_os(OPENAPI_DIR_ENV).ok_or(ContractError::MissingEnv)?;
        Contract::from_dir(Path::new(&dir))
    }

    /// Loads `company-v2-endpoints.json` and `firm-v1.json` from `dir`.
    pub fn from_dir(dir: &Path) -> Result<Contract, ContractError> {
        let company_path = dir.join(COMPANY_FILE);
        let company = read_json(&company_path)?;
        let endpoints = company_endpoints(&company, &company_path)?;
        let firm_path = dir.join(FIRM_FILE);
        let firm = read_json(&firm_path)?;
        let firm_paths = firm
            .get("paths")
            .and_then(Value::as_object)
            .ok_or_else(|| ContractError::Invalid {
                path: firm_path.clone(),
                reason: "no `paths` object".into(),
            })?
            .keys()
            .cloned()
            .collect();
        Ok(Contract {
            endpoints,
            firm,
            firm_paths,
        })
    }

    /// Every GET endpoint of the Company API, with its request rules.
    pub fn endpoints(&self) -> &[SpecEndpoint] {
        &self.endpoints
    }

    /// The Company API endpoint serving the concrete `path` (below `/api/external/v2`).
    pub fn endpoint(&self, path: &str) -> Option<&SpecEndpoint> {
        // A literal segment wins over a parameter.
        self.endpoints
            .iter()
            .filter(|e| path_matches(&e.path, path))
            .max_by_key(|e| e.path.split('/').filter(|s| !s.starts_with('{')).count())
    }

    /// The violations of a GET request on `path` (below `/api/external/v2`) with the
    /// decoded query `pairs`.
    pub fn check_request(&self, path: &str, pairs: &[(String, String)]) -> Vec<Violation> {
        let endpoint = format!("GET {path}");
        let mut out = Vec::new();
        let mut push = |field: &str, rule: String| {
            out.push(Violation {
                side: Side::Request,
                endpoint: endpoint.clone(),
                field: field.to_owned(),
                rule,
            })
        };
        let Some(spec) = self.endpoint(path) else {
            push(
                "(path)",
                format!("{COMPANY_FILE} has no GET endpoint for this path"),
            );
            return out;
        };
        for p in spec.query.iter().filter(|p| p.required) {
            if !pairs.iter().any(|(k, _)| *k == p.name) {
                push(&p.name, "required parameter missing".into());
            }
        }
        for (name, value) in pairs {
            let Some(param) = spec.query.iter().find(|p| p.name == *name) else {
                push(
                    name,
                    format!(
                        "not a parameter of this endpoint (parameters: {})",
                        spec.query
                            .iter()
                            .map(|p| p.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                );
                continue;
            };
            match name.as_str() {
                "limit" => {
                    let max = spec.max_limit.unwrap_or(usize::MAX);
                    if !value.parse::<usize>().is_ok_and(|n| (1..=max).contains(&n)) {
                        push(
                            name,
                            format!("must be an integer between 1 and {max}, got `{value}`"),
                        );
                    }
                }
                "filter" => check_filter(spec, value, &mut push),
                "sort" => {
                    let field = value.strip_prefix('-').unwrap_or(value);
                    if !spec.sorts.iter().any(|s| s == field) {
                        push(
                            name,
                            format!(
                                "`{value}`: not a sortable field (available: {})",
                                spec.sorts.join(", ")
                            ),
                        );
                    }
                }
                "include" => {
                    for v in value.split(',') {
                        if !spec.includes.iter().any(|i| i == v) {
                            push(
                                name,
                                format!(
                                    "`{v}`: not an available include (available: {})",
                                    spec.includes.join(", ")
                                ),
                            );
                        }
                    }
                }
                "start_date" => {
                    if DateTime::parse_from_rfc3339(value).is_err() {
                        push(
                            name,
                            format!("must be an RFC 3339 timestamp, got `{value}`"),
                        );
                    }
                    if pairs.iter().any(|(k, _)| k == "cursor") {
                        push(name, "start_date and cursor together are a 400".into());
                    }
                }
                _ if param.kind == "boolean" && value != "true" && value != "false" => {
                    push(name, format!("must be true or false, got `{value}`"));
                }
                _ if param.kind == "integer" && value.parse::<i64>().is_err() => {
                    push(name, format!("must be an integer, got `{value}`"));
                }
                _ => {}
            }
        }
        out
    }

    /// The Firm path describing the response of the Company `path`, if any.
    fn firm_path(&self, path: &str) -> Option<&str> {
        let company = self.endpoint(path).map(|e| e.path.as_str()).unwrap_or(path);
        // Changelog events have one shape whatever the resource.
        let concrete = if company.starts_with("/changelogs/") {
            "/changelogs/customer_invoices".to_owned()
        } else {
            path.to_owned()
        };
        let wanted = format!("/api/external/firm/v1/companies/0{concrete}");
        self.firm_paths
            .iter()
            .filter(|p| p.starts_with(FIRM_PREFIX) && path_matches(p, &wanted))
            .max_by_key(|p| p.split('/').filter(|s| !s.starts_with('{')).count())
            .map(String::as_str)
    }

    /// Whether a response schema describes `path` (below `/api/external/v2`).
    pub fn has_response_schema(&self, path: &str) -> bool {
        self.firm_path(path).is_some()
    }

    /// The violations of the response `body` (status `status`) served on `path` for
    /// a request with query `pairs`. `None` when no response schema describes it.
    pub fn check_response(
        &self,
        path: &str,
        pairs: &[(String, String)],
        status: u16,
        body: &Value,
    ) -> Option<Vec<Violation>> {
        let firm_path = self.firm_path(path)?;
        let endpoint = format!("GET {path}");
        let mut out = Vec::new();
        let responses = self
            .firm
            .get("paths")?
            .get(firm_path)?
            .pointer("/get/responses")?;
        let Some(response) = responses.get(status.to_string()) else {
            out.push(Violation {
                side: Side::Response,
                endpoint,
                field: "(status)".into(),
                rule: format!("HTTP {status} is not a documented answer of {firm_path}"),
            });
            return Some(out);
        };
        let response = self.resolve(response);
        let Some(schema) = response.pointer("/content/application~1json/schema") else {
            return Some(out);
        };
        let schema = self.resolve(schema);
        let mut body = body.clone();
        // `include`: the included section sits beside the items (experimental, no schema).
        if pairs.iter().any(|(k, _)| k == "include")
            && let Some(map) = body.as_object_mut()
        {
            map.remove("included");
        }
        let cursor_paged = self
            .endpoint(path)
            .is_some_and(|e| e.query.iter().any(|p| p.name == "cursor"));
        let page_numbered = schema.pointer("/properties/total_pages").is_some();
        let mut v = Validator {
            contract: self,
            endpoint: &endpoint,
            out: &mut out,
        };
        if status == 200 && cursor_paged && page_numbered {
            let items = schema.pointer("/properties/items").unwrap_or(&Value::Null);
            let envelope = serde_json::json!({
                "type": "object",
                "additionalProperties": false,
                "required": ["items", "has_more", "next_cursor"],
                "properties": {
                    "items": items,
                    "has_more": {"type": "boolean"},
                    "next_cursor": {"type": "string", "nullable": true},
                },
            });
            v.check(&envelope, &body, "");
        } else {
            v.check(schema, &body, "");
        }
        Some(out)
    }

    /// Follows a local `$ref` (`#/components/...`), repeatedly.
    fn resolve<'a>(&'a self, mut schema: &'a Value) -> &'a Value {
        for _ in 0..16 {
            let Some(target) = schema.get("$ref").and_then(Value::as_str) else {
                break;
            };
            let Some(pointer) = target.strip_prefix('#') else {
                break;
            };
            match self.firm.pointer(pointer) {
                Some(next) => schema = next,
                None => break,
            }
        }
        schema
    }
}

fn check_filter(spec: &SpecEndpoint, raw: &str, push: &mut impl FnMut(&str, String)) {
    if spec.filters.is_empty() {
        push("filter", "this endpoint takes no filter".into());
        return;
    }
    let items = match serde_json::from_str::<Value>(raw) {
        Ok(Value::Array(items)) => items,
        _ => {
            push(
                "filter",
                format!("must be a JSON array of {{field, operator, value}}, got `{raw}`"),
            );
            return;
        }
    };
    for (i, item) in items.iter().enumerate() {
        let field = item.get("field").and_then(Value::as_str).unwrap_or("");
        let op = item.get("operator").and_then(Value::as_str).unwrap_or("");
        let at = format!("filter[{i}]");
        match spec.filters.iter().find(|(f, _)| f == field) {
            None => push(
                &format!("{at}.field"),
                format!(
                    "`{field}` is not filterable (filterable: {})",
                    spec.filters
                        .iter()
                        .map(|(f, _)| f.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ),
            Some((_, ops)) if !ops.iter().any(|o| o == op) => push(
                &format!("{at}.operator"),
                format!(
                    "`{op}` is not an operator of `{field}` (operators: {})",
                    ops.join(", ")
                ),
            ),
            Some(_) => {
                let value = item.get("value");
                if value.is_none() {
                    push(&format!("{at}.value"), "missing".into());
                } else if matches!(op, "in" | "not_in") && !value.is_some_and(Value::is_array) {
                    push(&format!("{at}.value"), format!("`{op}` needs an array"));
                }
            }
        }
    }
}

struct Validator<'a> {
    contract: &'a Contract,
    endpoint: &'a str,
    out: &'a mut Vec<Violation>,
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn field_name(at: &str) -> String {
    if at.is_empty() {
        "(body)".into()
    } else {
        at.to_owned()
    }
}

fn shorten(value: &Value) -> String {
    let text = value.to_string();
    if text.len() > 60 {
        format!(
            "{}…",
            &text[..text.char_indices().nth(57).map_or(text.len(), |(i, _)| i)]
        )
    } else {
        text
    }
}

impl Validator<'_> {
    fn push(&mut self, at: &str, rule: String) {
        self.out.push(Violation {
            side: Side::Response,
            endpoint: self.endpoint.to_owned(),
            field: field_name(at),
            rule,
        });
    }

    /// The violations `schema` finds in `value`, without recording them.
    fn trial(&mut self, schema: &Value, value: &Value, at: &str) -> Vec<Violation> {
        let mut found = Vec::new();
        let mut v = Validator {
            contract: self.contract,
            endpoint: self.endpoint,
            out: &mut found,
        };
        v.check(schema, value, at);
        found
    }

    fn check(&mut self, schema: &Value, value: &Value, at: &str) {
        let schema = self.contract.resolve(schema);
        let Some(s) = schema.as_object() else {
            return;
        };
        for sub in s
            .get("allOf")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            self.check(sub, value, at);
        }
        for (key, exactly_one) in [("anyOf", false), ("oneOf", true)] {
            let Some(options) = s.get(key).and_then(Value::as_array) else {
                continue;
            };
            let trials: Vec<Vec<Violation>> =
                options.iter().map(|o| self.trial(o, value, at)).collect();
            let passing = trials.iter().filter(|t| t.is_empty()).count();
            if passing == 0 {
                // The closest option tells what is wrong.
                let closest = trials.into_iter().min_by_key(Vec::len).unwrap_or_default();
                if closest.is_empty() {
                    self.push(at, format!("{key}: matches none of its schemas"));
                }
                self.out.extend(closest.into_iter().map(|mut v| {
                    v.rule = format!("{} (closest {key} option)", v.rule);
                    v
                }));
            } else if exactly_one && passing > 1 {
                self.push(
                    at,
                    format!("oneOf: matches {passing} of its schemas, not exactly one"),
                );
            }
        }
        let nullable = s.get("nullable").and_then(Value::as_bool) == Some(true);
        if value.is_null() {
            let null_in_enum = s
                .get("enum")
                .and_then(Value::as_array)
                .is_some_and(|e| e.iter().any(Value::is_null));
            let typed = s.get("type").is_some();
            if typed && !nullable && !null_in_enum && s.get("type") != Some(&Value::from("null")) {
                self.push(at, "is null but not nullable".into());
            }
            return;
        }
        if let Some(expected) = s.get("type").and_then(Value::as_str) {
            let actual = kind(value);
            let ok = actual == expected || (expected == "number" && actual == "integer");
            if !ok {
                let shown = match value {
                    Value::Array(a) => format!("of {} element(s)", a.len()),
                    Value::Object(_) => String::new(),
                    other => shorten(other),
                };
                self.push(
                    at,
                    format!("must be of type {expected}, got {actual} {shown}")
                        .trim_end()
                        .to_owned(),
                );
                return;
            }
        }
        if let Some(allowed) = s.get("enum").and_then(Value::as_array)
            && !allowed.contains(value)
        {
            self.push(
                at,
                format!(
                    "{} is not in the enum ({})",
                    shorten(value),
                    allowed.iter().map(shorten).collect::<Vec<_>>().join(", ")
                ),
            );
        }
        if let Some(text) = value.as_str() {
            match s.get("format").and_then(Value::as_str) {
                Some("date") if NaiveDate::parse_from_str(text, "%Y-%m-%d").is_err() => {
                    self.push(at, format!("must be a date (YYYY-MM-DD), got `{text}`"));
                }
                Some("date-time") if DateTime::parse_from_rfc3339(text).is_err() => {
                    self.push(at, format!("must be an RFC 3339 date-time, got `{text}`"));
                }
                _ => {}
            }
            if s.get("pattern").and_then(Value::as_str) == Some(DECIMAL_PATTERN)
                && !is_decimal(text)
            {
                self.push(at, format!("must be a decimal string, got `{text}`"));
            }
        }
        if let Some(items) = s.get("items")
            && let Some(elements) = value.as_array()
        {
            for (i, element) in elements.iter().enumerate() {
                self.check(items, element, &format!("{at}[{i}]"));
            }
        }
        if let Some(object) = value.as_object() {
            self.check_object(s, object, at);
        }
    }

    fn check_object(&mut self, s: &Map<String, Value>, object: &Map<String, Value>, at: &str) {
        let join = |key: &str| {
            if at.is_empty() {
                key.to_owned()
            } else {
                format!("{at}.{key}")
            }
        };
        let properties = s.get("properties").and_then(Value::as_object);
        for required in s
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(name) = required.as_str()
                && !object.contains_key(name)
            {
                self.push(&join(name), "required field missing".into());
            }
        }
        let closed = s.get("additionalProperties") == Some(&Value::Bool(false));
        let known: BTreeSet<&str> = properties
            .map(|p| p.keys().map(String::as_str).collect())
            .unwrap_or_default();
        for (key, value) in object {
            match properties.and_then(|p| p.get(key)) {
                Some(sub) => self.check(sub, value, &join(key)),
                None if closed => self.push(
                    &join(key),
                    format!(
                        "not a field of the schema (additionalProperties: false; fields: {})",
                        known.iter().copied().collect::<Vec<_>>().join(", ")
                    ),
                ),
                None => {}
            }
        }
    }
}

fn is_decimal(text: &str) -> bool {
    if text.is_empty() {
        return true;
    }
    let body = text.strip_prefix('-').unwrap_or(text);
    let (int, frac) = match body.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (body, None),
    };
    !int.is_empty()
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.is_none_or(|f| !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn filter_descriptions_of_every_form_are_read() {
        let lines = "You can choose.\nAvailable fields : `id`, `journal_id`\nAvailable operators : `lt`, `eq`, `in`";
        assert_eq!(
            parse_filter_description(lines),
            vec![
                (
                    "id".to_owned(),
                    vec!["lt".to_owned(), "eq".into(), "in".into()]
                ),
                (
                    "journal_id".to_owned(),
                    vec!["lt".to_owned(), "eq".into(), "in".into()]
                ),
            ]
        );
        let listed = "Available fields and values:\n- `id`, `date`: `lt`, `eq`\n- `draft`: `eq` (boolean)\n- `label` : `start_with`";
        assert_eq!(
            parse_filter_description(listed),
            vec![
                ("id".to_owned(), vec!["lt".to_owned(), "eq".into()]),
                ("date".to_owned(), vec!["lt".to_owned(), "eq".into()]),
                ("draft".to_owned(), vec!["eq".to_owned()]),
                ("label".to_owned(), vec!["start_with".to_owned()]),
            ]
        );
        let grouped = "- `id`,`journal_id`: `lt, lteq, gt`, `in`";
        assert_eq!(
            parse_filter_description(grouped),
            vec![
                (
                    "id".to_owned(),
                    vec!["lt".to_owned(), "lteq".into(), "gt".into(), "in".into()]
                ),
                (
                    "journal_id".to_owned(),
                    vec!["lt".to_owned(), "lteq".into(), "gt".into(), "in".into()]
                ),
            ]
        );
        assert_eq!(
            parse_sort_description("Example : `id` will\nAvailable fields :\n- `id`, `start`"),
            vec!["id".to_owned(), "start".into()]
        );
        assert_eq!(
            parse_limit_description("Must be between 1 and 1000."),
            Some(1000)
        );
    }

    #[test]
    fn decimals_are_strings_of_digits() {
        for ok in ["", "0", "-12.50", "100.00"] {
            assert!(is_decimal(ok), "{ok}");
        }
        for bad in ["1,5", "1.", ".5", "abc", "--1"] {
            assert!(!is_decimal(bad), "{bad}");
        }
    }
}
