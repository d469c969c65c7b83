//! Settings from a file for local runs: a Functions `local.settings.json`
//! (its `Values`) or a `.env` file (`KEY=VALUE` lines).

use std::path::Path;

use super::SettingsError;

/// Reads the variables of `path`; the error names the file and the line.
pub fn read(path: &Path) -> Result<Vec<(String, String)>, SettingsError> {
    let setting = format!("--env-file {}", path.display());
    let text = std::fs::read_to_string(path)
        .map_err(|e| SettingsError::new(&setting, format!("cannot read it: {e}")))?;
    if text.trim_start().starts_with('{') {
        local_settings(&text).map_err(|problem| SettingsError::new(&setting, problem))
    } else {
        dotenv(&text).map_err(|problem| SettingsError::new(&setting, problem))
    }
}

fn local_settings(text: &str) -> Result<Vec<(String, String)>, String> {
    let json: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("not valid JSON: {e}"))?;
    let values = json
        .get("Values")
        .and_then(|v| v.as_object())
        .ok_or("a local.settings.json needs a `Values` object")?;
    values
        .iter()
        .map(|(k, v)| match v {
            serde_json::Value::String(s) => Ok((k.clone(), s.clone())),
            serde_json::Value::Number(n) => Ok((k.clone(), n.to_string())),
            serde_json::Value::Bool(b) => Ok((k.clone(), b.to_string())),
            _ => Err(format!("`Values.{k}` must be a string")),
        })
        .collect()
}

fn dotenv(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut vars = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let (key, value) = line
            .split_once('=')
            .filter(|(k, _)| !k.trim().is_empty())
            .ok_or_else(|| format!("line {} is not KEY=VALUE", index + 1))?;
        let value = value.trim();
        let unquoted = ['"', '\'']
            .iter()
            .find_map(|q| value.strip_prefix(*q).and_then(|v| v.strip_suffix(*q)))
            .unwrap_or(value);
        vars.push((key.trim().to_owned(), unquoted.to_owned()));
    }
    Ok(vars)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_formats() {
        let json =
            r#"{"IsEncrypted": false, "Values": {"PHOTOSYNC_DRY_RUN": "true", "PORT": 7071}}"#;
        assert_eq!(
            local_settings(json).unwrap(),
            vec![
                ("PHOTOSYNC_DRY_RUN".to_owned(), "true".to_owned()),
                ("PORT".to_owned(), "7071".to_owned())
            ]
        );
        let env =
            "# app\nexport PHOTOSYNC_TENANT_ID=contoso\nPHOTOSYNC_CLIENT_SECRET=\"a=b c\"\n\n";
        assert_eq!(
            dotenv(env).unwrap(),
            vec![
                ("PHOTOSYNC_TENANT_ID".to_owned(), "contoso".to_owned()),
                ("PHOTOSYNC_CLIENT_SECRET".to_owned(), "a=b c".to_owned())
            ]
        );
        assert_eq!(
            dotenv("A=1\noops\n").unwrap_err(),
            "line 2 is not KEY=VALUE"
        );
        assert!(local_settings("{}").unwrap_err().contains("Values"));
    }
}
