//! The Python literals that fileConfig's `args` and `kwargs` entries contain: tuples and
//! dicts of strings, numbers, booleans, `None` and the streams `sys.stdout` and `sys.stderr`.
//! Anything else (a function call, say) is an error naming what was found.

/// A Python literal value.
#[derive(Debug, Clone, PartialEq)]
pub enum PyValue {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    None,
    Stdout,
    Stderr,
    Tuple(Vec<PyValue>),
    Dict(Vec<(String, PyValue)>),
}

impl PyValue {
    /// Converts a JSON value from a dictConfig file; `ext://sys.stdout` names a stream.
    pub fn from_json(value: &serde_json::Value) -> PyValue {
        match value {
            serde_json::Value::String(text) => match text.as_str() {
                "ext://sys.stdout" => PyValue::Stdout,
                "ext://sys.stderr" => PyValue::Stderr,
                _ => PyValue::Str(text.clone()),
            },
            serde_json::Value::Bool(value) => PyValue::Bool(*value),
            serde_json::Value::Number(number) => match number.as_i64() {
                Some(integer) => PyValue::Int(integer),
                None => PyValue::Float(number.as_f64().unwrap_or_default()),
            },
            serde_json::Value::Null => PyValue::None,
            serde_json::Value::Array(items) => {
                PyValue::Tuple(items.iter().map(PyValue::from_json).collect())
            }
            serde_json::Value::Object(map) => PyValue::Dict(
                map.iter()
                    .map(|(key, value)| (key.clone(), PyValue::from_json(value)))
                    .collect(),
            ),
        }
    }

    /// Returns the value as a non-negative integer, for byte counts.
    pub fn as_u64(&self) -> Result<u64, String> {
        match self {
            PyValue::Int(value) if *value >= 0 => Ok(*value as u64),
            PyValue::Str(text) => text
                .trim()
                .parse()
                .map_err(|_| format!("expected a number, found {text:?}")),
            other => Err(format!("expected a non-negative number, found {other:?}")),
        }
    }

    /// Returns the value as a count.
    pub fn as_u32(&self) -> Result<u32, String> {
        let value = self.as_u64()?;
        u32::try_from(value).map_err(|_| format!("number {value} is too large"))
    }

    /// Returns Python's truth value for booleans, numbers and strings.
    pub fn is_true(&self) -> bool {
        match self {
            PyValue::Bool(value) => *value,
            PyValue::Int(value) => *value != 0,
            PyValue::Str(text) => matches!(
                text.trim().to_ascii_lowercase().as_str(),
                "1" | "true" | "yes" | "on"
            ),
            _ => false,
        }
    }
}

/// Parses one Python literal expression.
pub fn parse(text: &str) -> Result<PyValue, String> {
    let mut parser = Parser {
        chars: text.chars().collect(),
        position: 0,
    };
    let value = parser.value()?;
    parser.skip_space();
    if parser.position < parser.chars.len() {
        return Err(format!("unexpected text after the value in {text:?}"));
    }
    Ok(value)
}

struct Parser {
    chars: Vec<char>,
    position: usize,
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.position).copied()
    }

    fn skip_space(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.position += 1;
        }
    }

    fn value(&mut self) -> Result<PyValue, String> {
        self.skip_space();
        match self.peek() {
            Some('(') => self.sequence(')').map(PyValue::Tuple),
            Some('[') => self.sequence(']').map(PyValue::Tuple),
            Some('{') => self.dict(),
            Some(quote @ ('\'' | '"')) => self.string(quote).map(PyValue::Str),
            Some(c) if c.is_ascii_digit() || c == '-' || c == '+' || c == '.' => self.number(),
            Some(_) => self.name(),
            None => Err("missing value".into()),
        }
    }

    fn sequence(&mut self, close: char) -> Result<Vec<PyValue>, String> {
        self.position += 1;
        let mut items = Vec::new();
        loop {
            self.skip_space();
            if self.peek() == Some(close) {
                self.position += 1;
                return Ok(items);
            }
            items.push(self.value()?);
            self.skip_space();
            match self.peek() {
                Some(',') => self.position += 1,
                Some(c) if c == close => {}
                _ => return Err(format!("expected `,` or `{close}`")),
            }
        }
    }

    fn dict(&mut self) -> Result<PyValue, String> {
        self.position += 1;
        let mut entries = Vec::new();
        loop {
            self.skip_space();
            if self.peek() == Some('}') {
                self.position += 1;
                return Ok(PyValue::Dict(entries));
            }
            let PyValue::Str(key) = self.value()? else {
                return Err("dict keys must be strings".into());
            };
            self.skip_space();
            if self.peek() != Some(':') {
                return Err("expected `:` after a dict key".into());
            }
            self.position += 1;
            entries.push((key, self.value()?));
            self.skip_space();
            match self.peek() {
                Some(',') => self.position += 1,
                Some('}') => {}
                _ => return Err("expected `,` or `}` in a dict".into()),
            }
        }
    }

    fn string(&mut self, quote: char) -> Result<String, String> {
        self.position += 1;
        let mut text = String::new();
        while let Some(c) = self.peek() {
            self.position += 1;
            match c {
                c if c == quote => return Ok(text),
                '\\' => {
                    let escaped = self.peek().ok_or("unterminated string")?;
                    self.position += 1;
                    text.push(match escaped {
                        'n' => '\n',
                        't' => '\t',
                        'r' => '\r',
                        '0' => '\0',
                        other => other,
                    });
                }
                c => text.push(c),
            }
        }
        Err("unterminated string".into())
    }

    fn number(&mut self) -> Result<PyValue, String> {
        let start = self.position;
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+' | '_'))
        {
            self.position += 1;
        }
        let text: String = self.chars[start..self.position]
            .iter()
            .filter(|&&c| c != '_')
            .collect();
        if let Ok(integer) = text.parse() {
            return Ok(PyValue::Int(integer));
        }
        text.parse()
            .map(PyValue::Float)
            .map_err(|_| format!("invalid number {text:?}"))
    }

    fn name(&mut self) -> Result<PyValue, String> {
        let start = self.position;
        while self
            .peek()
            .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '.')
        {
            self.position += 1;
        }
        let name: String = self.chars[start..self.position].iter().collect();
        match name.as_str() {
            "True" => Ok(PyValue::Bool(true)),
            "False" => Ok(PyValue::Bool(false)),
            "None" => Ok(PyValue::None),
            "sys.stdout" => Ok(PyValue::Stdout),
            "sys.stderr" => Ok(PyValue::Stderr),
            "" => Err(format!(
                "unexpected character {:?}",
                self.peek().unwrap_or(' ')
            )),
            other => Err(format!(
                "unsupported expression {other:?}; only literals, sys.stdout and sys.stderr"
            )),
        }
    }
}
