//! A small evaluator for the template language (enough for these tests).

#[allow(unused_imports)]
use super::*;

/// Template functions the expressions may use (lower case).
pub(super) const ARM_FUNCTIONS: &[&str] = &[
    "and",
    "concat",
    "contains",
    "copyindex",
    "createarray",
    "createobject",
    "empty",
    "environment",
    "equals",
    "format",
    "guid",
    "if",
    "length",
    "listkeys",
    "newguid",
    "not",
    "null",
    "or",
    "parameters",
    "reference",
    "resourcegroup",
    "resourceid",
    "string",
    "subscription",
    "subscriptionresourceid",
    "take",
    "tolower",
    "union",
    "uniquestring",
    "variables",
];

#[derive(Debug, Clone)]
pub(super) enum Expr {
    Text(String),
    Int(i64),
    Call(String, Vec<Expr>),
    Property(Box<Expr>, String),
    Index(Box<Expr>, Box<Expr>),
}

impl Expr {
    /// Every `resourceId(...)` call (not `subscriptionResourceId`), innermost too.
    pub(super) fn resource_ids(&self, out: &mut Vec<Expr>) {
        match self {
            Expr::Text(_) | Expr::Int(_) => {}
            Expr::Call(name, args) => {
                if name.eq_ignore_ascii_case("resourceId") {
                    out.push(self.clone());
                }
                args.iter().for_each(|a| a.resource_ids(out));
            }
            Expr::Property(inner, _) => inner.resource_ids(out),
            Expr::Index(inner, index) => {
                inner.resource_ids(out);
                index.resource_ids(out);
            }
        }
    }

    /// Every function call with its first argument when that is a literal.
    pub(super) fn calls(&self, out: &mut Vec<(String, Option<String>)>) {
        match self {
            Expr::Text(_) | Expr::Int(_) => {}
            Expr::Call(name, args) => {
                let first = match args.first() {
                    Some(Expr::Text(text)) => Some(text.clone()),
                    _ => None,
                };
                out.push((name.clone(), first));
                args.iter().for_each(|a| a.calls(out));
            }
            Expr::Property(inner, _) => inner.calls(out),
            Expr::Index(inner, index) => {
                inner.calls(out);
                index.calls(out);
            }
        }
    }
}

/// Every string that is a template expression (`[...]`, not `[[...`), with where it is.
pub(super) fn collect_expressions(value: &Value, at: &str, out: &mut Vec<(String, String)>) {
    match value {
        Value::String(s) if s.starts_with('[') && !s.starts_with("[[") && s.ends_with(']') => {
            out.push((at.to_owned(), s.clone()))
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                collect_expressions(item, &format!("{at}[{i}]"), out);
            }
        }
        Value::Object(map) => {
            for (key, item) in map {
                collect_expressions(item, &format!("{at}.{key}"), out);
            }
        }
        _ => {}
    }
}

pub(super) fn parse_expression(text: &str) -> Result<Expr, String> {
    let inner = text
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .ok_or("not an expression")?;
    let mut parser = Parser {
        chars: inner.chars().collect(),
        at: 0,
    };
    let expr = parser.expr()?;
    parser.skip_space();
    if parser.at != parser.chars.len() {
        return Err(format!("unexpected text at {}", parser.at));
    }
    Ok(expr)
}

pub(super) struct Parser {
    chars: Vec<char>,
    at: usize,
}

impl Parser {
    pub(super) fn peek(&self) -> Option<char> {
        self.chars.get(self.at).copied()
    }

    pub(super) fn skip_space(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.at += 1;
        }
    }

    pub(super) fn eat(&mut self, c: char) -> Result<(), String> {
        self.skip_space();
        if self.peek() == Some(c) {
            self.at += 1;
            Ok(())
        } else {
            Err(format!("expected `{c}` at {}", self.at))
        }
    }

    pub(super) fn ident(&mut self) -> Result<String, String> {
        self.skip_space();
        let start = self.at;
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            self.at += 1;
        }
        if start == self.at {
            return Err(format!("expected a name at {start}"));
        }
        Ok(self.chars[start..self.at].iter().collect())
    }

    pub(super) fn expr(&mut self) -> Result<Expr, String> {
        self.skip_space();
        let mut expr = match self.peek() {
            Some('\'') => {
                self.at += 1;
                let mut text = String::new();
                loop {
                    match self.peek() {
                        None => return Err("unterminated string".into()),
                        Some('\'') if self.chars.get(self.at + 1) == Some(&'\'') => {
                            text.push('\'');
                            self.at += 2;
                        }
                        Some('\'') => {
                            self.at += 1;
                            break;
                        }
                        Some(c) => {
                            text.push(c);
                            self.at += 1;
                        }
                    }
                }
                Expr::Text(text)
            }
            Some(c) if c.is_ascii_digit() || c == '-' => {
                let start = self.at;
                self.at += 1;
                while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                    self.at += 1;
                }
                let digits: String = self.chars[start..self.at].iter().collect();
                Expr::Int(digits.parse().map_err(|e| format!("{digits}: {e}"))?)
            }
            _ => {
                let name = self.ident()?;
                self.eat('(')?;
                let mut args = Vec::new();
                self.skip_space();
                if self.peek() == Some(')') {
                    self.at += 1;
                } else {
                    loop {
                        args.push(self.expr()?);
                        self.skip_space();
                        match self.peek() {
                            Some(',') => self.at += 1,
                            Some(')') => {
                                self.at += 1;
                                break;
                            }
                            _ => return Err(format!("expected `,` or `)` at {}", self.at)),
                        }
                    }
                }
                Expr::Call(name, args)
            }
        };
        loop {
            self.skip_space();
            match self.peek() {
                Some('.') => {
                    self.at += 1;
                    expr = Expr::Property(Box::new(expr), self.ident()?);
                }
                Some('[') => {
                    self.at += 1;
                    let index = self.expr()?;
                    self.eat(']')?;
                    expr = Expr::Index(Box::new(expr), Box::new(index));
                }
                _ => return Ok(expr),
            }
        }
    }
}

/// Evaluates expressions with the parameters' defaults (the deploy button
/// with no input), a fixed resource group, and overrides set by a test.
/// Functions that need Azure (reference, listKeys) are not evaluated.
pub(super) struct Evaluator<'a> {
    template: &'a Value,
    overrides: BTreeMap<String, Value>,
    pub(super) copy_index: Option<u64>,
}

impl<'a> Evaluator<'a> {
    pub(super) fn new(template: &'a Value) -> Self {
        let mut overrides = BTreeMap::new();
        // Names the deploy button would derive from uniqueString(resourceGroup().id).
        overrides.insert("appName".to_owned(), json!("photosync-test"));
        overrides.insert("storageAccountName".to_owned(), json!("photosynctest"));
        Self {
            template,
            overrides,
            copy_index: None,
        }
    }

    pub(super) fn set(&mut self, parameter: &str, value: Value) {
        self.overrides.insert(parameter.to_owned(), value);
    }

    /// Evaluates a JSON value: expressions in strings, recursively in objects and arrays.
    pub(super) fn eval_value(&mut self, value: &Value) -> Result<Value, String> {
        match value {
            Value::String(s) if s.starts_with('[') && !s.starts_with("[[") && s.ends_with(']') => {
                let expr = parse_expression(s)?;
                self.eval(&expr)
            }
            Value::Array(items) => items.iter().map(|v| self.eval_value(v)).collect(),
            Value::Object(map) => {
                let mut out = serde_json::Map::new();
                for (k, v) in map {
                    out.insert(k.clone(), self.eval_value(v)?);
                }
                Ok(Value::Object(out))
            }
            other => Ok(other.clone()),
        }
    }

    /// The site's app settings as evaluated, less what only Azure knows
    /// (the Application Insights connection string, storage keys), which
    /// are recorded as present with a placeholder value.
    pub(super) fn app_settings(&mut self) -> BTreeMap<String, String> {
        let site = one_of_type(self.template, "Microsoft.Web/sites");
        let expression = site["properties"]["siteConfig"]["appSettings"]
            .as_str()
            .unwrap();
        let parsed = parse_expression(expression).unwrap();
        let value = self.eval(&parsed).unwrap();
        let mut settings = BTreeMap::new();
        for setting in value.as_array().unwrap() {
            let name = setting["name"].as_str().unwrap().to_owned();
            let value = match &setting["value"] {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            assert!(
                settings.insert(name.clone(), value).is_none(),
                "{name} set twice"
            );
        }
        settings
    }

    pub(super) fn eval(&mut self, expr: &Expr) -> Result<Value, String> {
        Ok(match expr {
            Expr::Text(t) => json!(t),
            Expr::Int(i) => json!(i),
            Expr::Property(inner, name) => {
                let value = self.eval(inner)?;
                value
                    .get(name)
                    .cloned()
                    .ok_or(format!("no property {name}"))?
            }
            Expr::Index(inner, index) => {
                let value = self.eval(inner)?;
                match self.eval(index)? {
                    Value::String(key) => value.get(&key).cloned(),
                    Value::Number(n) => value.get(n.as_u64().unwrap() as usize).cloned(),
                    other => return Err(format!("bad index {other}")),
                }
                .ok_or("index out of range")?
            }
            Expr::Call(name, args) => return self.call(name, args),
        })
    }

    pub(super) fn call(&mut self, name: &str, args: &[Expr]) -> Result<Value, String> {
        let name = name.to_ascii_lowercase();
        // Lazily evaluated, like ARM's own `if`.
        if name == "if" {
            let condition = self.eval(&args[0])?;
            return self.eval(&args[if condition == true { 1 } else { 2 }]);
        }
        // What only Azure can answer: a recognisable placeholder.
        if ["reference", "listkeys"].contains(&name.as_str()) {
            return Ok(json!({
                "ConnectionString": "InstrumentationKey=00000000-0000-0000-0000-000000000000",
                "keys": [{"value": "<storage account key>"}],
                "defaultHostName": "photosync-test.azurewebsites.net",
                "identity": {"principalId": "<principal id>"}
            }));
        }
        let values = args
            .iter()
            .map(|a| self.eval(a))
            .collect::<Result<Vec<_>, _>>()?;
        let text = |i: usize| {
            values[i]
                .as_str()
                .map(str::to_owned)
                .ok_or(format!("{name}: arg {i} not text"))
        };
        Ok(match name.as_str() {
            "parameters" => {
                let parameter = text(0)?;
                if let Some(value) = self.overrides.get(&parameter) {
                    return Ok(value.clone());
                }
                let default = self.template["parameters"][&parameter]["defaultValue"].clone();
                self.eval_value(&default)?
            }
            "variables" => {
                let variable = self.template["variables"][&text(0)?].clone();
                self.eval_value(&variable)?
            }
            "copyindex" => json!(self.copy_index.ok_or("copyIndex() outside a loop")?),
            "concat" if values.iter().all(Value::is_array) => Value::Array(
                values
                    .iter()
                    .flat_map(|v| v.as_array().unwrap().clone())
                    .collect(),
            ),
            "concat" => json!(
                values
                    .iter()
                    .map(|v| match v {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    })
                    .collect::<String>()
            ),
            "format" => {
                let mut out = text(0)?;
                for (i, value) in values.iter().enumerate().skip(1) {
                    let value = match value {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    out = out.replace(&format!("{{{}}}", i - 1), &value);
                }
                json!(out)
            }
            "environment" => json!({"suffixes": {"storage": "core.windows.net"},
                                    "authentication": {"loginEndpoint": "https://login.microsoftonline.com/"}}),
            "subscription" => json!({"subscriptionId": "0000", "tenantId": "contoso-test-tenant"}),
            // ARM writes booleans as `True` / `False`.
            "string" => json!(match &values[0] {
                Value::Bool(true) => "True".to_owned(),
                Value::Bool(false) => "False".to_owned(),
                Value::String(s) => s.clone(),
                other => other.to_string(),
            }),
            "resourcegroup" => {
                json!({"id": "/subscriptions/0000/resourceGroups/photosync", "location": "westeurope"})
            }
            "uniquestring" => json!("uniq3test"),
            "tolower" => json!(text(0)?.to_lowercase()),
            "take" => {
                let n = values[1].as_u64().ok_or("take: count")? as usize;
                json!(text(0)?.chars().take(n).collect::<String>())
            }
            "equals" => json!(values[0] == values[1]),
            "not" => json!(values[0] != true),
            "and" => json!(values.iter().all(|v| *v == true)),
            "or" => json!(values.iter().any(|v| *v == true)),
            "empty" => json!(match &values[0] {
                Value::String(s) => s.is_empty(),
                Value::Array(a) => a.is_empty(),
                Value::Object(o) => o.is_empty(),
                Value::Null => true,
                _ => false,
            }),
            "null" => Value::Null,
            "length" => json!(match &values[0] {
                Value::String(s) => s.chars().count(),
                Value::Array(a) => a.len(),
                Value::Object(o) => o.len(),
                _ => return Err("length of a scalar".into()),
            }),
            "createarray" => Value::Array(values),
            "createobject" => {
                let mut map = serde_json::Map::new();
                for pair in values.chunks(2) {
                    map.insert(
                        pair[0].as_str().ok_or("createObject key")?.to_owned(),
                        pair[1].clone(),
                    );
                }
                Value::Object(map)
            }
            "resourceid" | "subscriptionresourceid" => {
                let parts: Vec<String> = values
                    .iter()
                    .map(|v| v.as_str().unwrap_or_default().to_owned())
                    .collect();
                json!(format!("/providers/{}/{}", parts[0], parts[1..].join("/")))
            }
            "guid" | "newguid" => json!("00000000-0000-0000-0000-000000000001"),
            other => return Err(format!("the test evaluator cannot run {other}()")),
        })
    }
}
