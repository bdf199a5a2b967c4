//! Where each setting came from: the highest layer that sets it wins, as [`super::settings::layer`]
//! lays them, and `stapler config` shows the winner beside each value.

use serde::Serialize;

use super::settings::Settings;

/// One setting as given, with its source.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SettingOrigin {
    /// The setting's name in stapler.toml (`publish.jobs` for a key of a table).
    pub key: String,
    pub value: serde_json::Value,
    /// `Django (mysite.settings)`, the file's path, `environment` or `command line`.
    pub from: String,
}

/// The tables whose keys are set one by one (every other value is set whole).
const SECTIONS: [&str; 3] = ["publish", "shared_cache", "budget"];

/// For every setting some layer sets, the value and source of the highest such layer; layers
/// come lowest first.
pub fn collect(layers: &[(String, &Settings)]) -> Vec<SettingOrigin> {
    let mut found: Vec<SettingOrigin> = Vec::new();
    for (from, settings) in layers {
        let Ok(serde_json::Value::Object(table)) = serde_json::to_value(settings) else {
            continue;
        };
        for (key, value) in table {
            if value.is_null() {
                continue;
            }
            match value {
                serde_json::Value::Object(inner) if SECTIONS.contains(&key.as_str()) => {
                    for (inner_key, inner_value) in inner {
                        if !inner_value.is_null() {
                            set(&mut found, format!("{key}.{inner_key}"), inner_value, from);
                        }
                    }
                }
                value => set(&mut found, key, value, from),
            }
        }
    }
    found.sort_by(|a, b| a.key.cmp(&b.key));
    found
}

fn set(found: &mut Vec<SettingOrigin>, key: String, value: serde_json::Value, from: &str) {
    let origin = SettingOrigin {
        key,
        value,
        from: from.to_string(),
    };
    match found.iter_mut().find(|existing| existing.key == origin.key) {
        Some(existing) => *existing = origin,
        None => found.push(origin),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_highest_layer_names_the_source() {
        let low = Settings {
            static_url: Some("/s/".into()),
            static_root: Some("a".into()),
            ..Settings::default()
        };
        let high = Settings {
            static_url: Some("/t/".into()),
            ..Settings::default()
        };
        let origins = collect(&[("Django (x)".into(), &low), ("stapler.toml".into(), &high)]);
        assert_eq!(
            origins
                .iter()
                .map(|o| (o.key.as_str(), o.from.as_str()))
                .collect::<Vec<_>>(),
            vec![
                ("static_root", "Django (x)"),
                ("static_url", "stapler.toml")
            ]
        );
        assert_eq!(origins[1].value, "/t/");
    }
}
