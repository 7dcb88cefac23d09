//! Turns the front matter's YAML value tree into an [`AgentDefinition`], collecting every problem
//! (with its field path and position) instead of stopping at the first.
//!
//! Fields are taken out of the mapping as they are read, so whatever is left afterwards is by
//! construction the set of unmodelled fields, which goes to `extra` untouched.

use std::collections::BTreeMap;

use serde_yaml_ng::{Mapping, Value};
use uuid::Uuid;

use super::error::{Issue, IssueKind, WarningKind};
use super::locate::{Locator, Position};
use super::model::{
    AgentDefinition, DefinitionShape, Dependencies, DeploymentConfig, LogLevel, LoggingConfig,
    ModelConfig, ModelParameters, NatsConfig, NatsSubjects, Resources, RestartConfig,
    RestartPolicy, Subjects,
};
use super::name::{AgentId, AgentName};
use super::prompt::SystemPrompt;
use super::tools::{rejoin_tools, split_tools};
use super::units::{CpuQuota, MemoryMax};

/// Log formats the runtime understands (`CIM_LOG_FORMAT`).
const LOG_FORMATS: [&str; 2] = ["json", "text"];

/// A warning about one field: its dotted path, where it is, what.
pub(crate) type FieldWarning = (String, Position, WarningKind);

/// Reads `root` (the parsed front matter) into a definition with the warnings found (field,
/// position, what), or every issue found.
pub(crate) fn read(
    root: Value,
    locator: &Locator,
    system_prompt: SystemPrompt,
) -> Result<(AgentDefinition, Vec<FieldWarning>), Vec<Issue>> {
    let mut reader = Reader {
        locator,
        issues: Vec::new(),
        warnings: Vec::new(),
        extra: BTreeMap::new(),
    };
    let mut root = match untag(root) {
        Value::Mapping(map) => map,
        Value::Null => Mapping::new(),
        other => {
            let found = type_name(&other);
            reader.issue("", IssueKind::NotAMapping { found });
            return Err(reader.issues);
        }
    };
    let definition = reader.definition(&mut root, system_prompt);
    reader.leftovers(root, "");
    match definition {
        Some(definition) if reader.issues.is_empty() => Ok((
            AgentDefinition {
                extra: reader.extra,
                ..definition
            },
            reader.warnings,
        )),
        _ => {
            let mut issues = reader.issues;
            issues.sort_by(|a, b| (a.position, &a.field).cmp(&(b.position, &b.field)));
            Err(issues)
        }
    }
}

struct Reader<'a> {
    locator: &'a Locator,
    issues: Vec<Issue>,
    warnings: Vec<FieldWarning>,
    extra: BTreeMap<String, serde_json::Value>,
}

fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_owned()
    } else {
        format!("{parent}.{key}")
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Sequence(_) => "a list",
        Value::Mapping(_) => "a mapping",
        Value::Tagged(_) => "a tagged value",
    }
}

/// Drops YAML tags (`!foo`), which carry no meaning for agent files.
fn untag(value: Value) -> Value {
    match value {
        Value::Tagged(tagged) => untag(tagged.value),
        other => other,
    }
}

fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(flag) => Some(flag.to_string()),
        _ => None,
    }
}

/// YAML to JSON, keeping everything: non-string keys become their text, tags wrap their value.
fn to_json(value: Value) -> serde_json::Value {
    match value {
        Value::Null => serde_json::Value::Null,
        Value::Bool(flag) => serde_json::Value::Bool(flag),
        Value::Number(number) => {
            if let Some(int) = number.as_i64() {
                int.into()
            } else if let Some(unsigned) = number.as_u64() {
                unsigned.into()
            } else {
                number
                    .as_f64()
                    .and_then(serde_json::Number::from_f64)
                    .map_or_else(
                        || serde_json::Value::String(number.to_string()),
                        serde_json::Value::Number,
                    )
            }
        }
        Value::String(text) => serde_json::Value::String(text),
        Value::Sequence(items) => {
            serde_json::Value::Array(items.into_iter().map(to_json).collect())
        }
        Value::Mapping(map) => serde_json::Value::Object(
            map.into_iter()
                .map(|(key, value)| (key_text(key), to_json(value)))
                .collect(),
        ),
        Value::Tagged(tagged) => {
            let mut object = serde_json::Map::new();
            object.insert(tagged.tag.to_string(), to_json(tagged.value));
            serde_json::Value::Object(object)
        }
    }
}

fn key_text(key: Value) -> String {
    match scalar_text(&key) {
        Some(text) => text,
        None => to_json(key).to_string(),
    }
}

impl Reader<'_> {
    fn issue(&mut self, field: &str, kind: IssueKind) {
        self.issues.push(Issue {
            position: self.locator.find(field),
            field: field.to_owned(),
            kind,
        });
    }

    /// Removes `key`; null counts as absent.
    fn take(map: &mut Mapping, key: &str) -> Option<Value> {
        match map.shift_remove(key).map(untag) {
            None | Some(Value::Null) => None,
            Some(value) => Some(value),
        }
    }

    fn string(&mut self, map: &mut Mapping, parent: &str, key: &str) -> Option<String> {
        let value = Self::take(map, key)?;
        let text = scalar_text(&value);
        if text.is_none() {
            let found = type_name(&value);
            self.issue(
                &join(parent, key),
                IssueKind::WrongType {
                    expected: "a string",
                    found,
                },
            );
        }
        text
    }

    fn mapping(&mut self, map: &mut Mapping, parent: &str, key: &str) -> Option<Mapping> {
        match Self::take(map, key)? {
            Value::Mapping(inner) => Some(inner),
            other => {
                let found = type_name(&other);
                self.issue(
                    &join(parent, key),
                    IssueKind::WrongType {
                        expected: "a mapping",
                        found,
                    },
                );
                None
            }
        }
    }

    fn float(
        &mut self,
        map: &mut Mapping,
        parent: &str,
        key: &str,
        (min, max): (f64, f64),
    ) -> Option<f64> {
        let value = Self::take(map, key)?;
        let path = join(parent, key);
        let Some(number) = value.as_f64() else {
            let found = type_name(&value);
            self.issue(
                &path,
                IssueKind::WrongType {
                    expected: "a number",
                    found,
                },
            );
            return None;
        };
        if !(min..=max).contains(&number) {
            self.issue(
                &path,
                IssueKind::OutOfRange {
                    value: number,
                    min,
                    max,
                },
            );
            return None;
        }
        Some(number)
    }

    fn whole(
        &mut self,
        map: &mut Mapping,
        parent: &str,
        key: &str,
        (min, max): (u32, u32),
    ) -> Option<u32> {
        let value = Self::take(map, key)?;
        let path = join(parent, key);
        let number = match &value {
            Value::Number(number) if number.is_i64() || number.is_u64() => number.as_f64(),
            _ => None,
        };
        let Some(number) = number else {
            let found = type_name(&value);
            self.issue(
                &path,
                IssueKind::WrongType {
                    expected: "a whole number",
                    found,
                },
            );
            return None;
        };
        let in_range = (f64::from(min)..=f64::from(max)).contains(&number);
        match u32::try_from(value.as_u64().unwrap_or(0)) {
            Ok(whole) if in_range => Some(whole),
            _ => {
                self.issue(
                    &path,
                    IssueKind::OutOfRange {
                        value: number,
                        min: f64::from(min),
                        max: f64::from(max),
                    },
                );
                None
            }
        }
    }

    /// A list of strings; with `comma`, also a comma-separated string (`tools: Read, Write`).
    fn list(&mut self, value: Value, path: &str, comma: bool) -> Vec<String> {
        match value {
            Value::Sequence(items) => items
                .into_iter()
                .enumerate()
                .filter_map(|(index, item)| {
                    let item = untag(item);
                    let text = scalar_text(&item);
                    if text.is_none() {
                        let found = type_name(&item);
                        self.issue(
                            &format!("{path}[{index}]"),
                            IssueKind::WrongType {
                                expected: "a string",
                                found,
                            },
                        );
                    }
                    text
                })
                .collect(),
            Value::String(text) if comma => split_tools(&text),
            other => {
                let found = type_name(&other);
                self.issue(
                    path,
                    IssueKind::WrongType {
                        expected: "a list of strings",
                        found,
                    },
                );
                Vec::new()
            }
        }
    }

    fn take_list(
        &mut self,
        map: &mut Mapping,
        parent: &str,
        key: &str,
        comma: bool,
    ) -> Vec<String> {
        match Self::take(map, key) {
            Some(value) => self.list(value, &join(parent, key), comma),
            None => Vec::new(),
        }
    }

    /// `tools`: a comma-separated string, a flow list or a block list, with commas inside an
    /// entry's parentheses kept in the entry (see [`super::tools`]).
    fn tools(&mut self, value: Value) -> Vec<String> {
        match value {
            Value::String(text) => split_tools(&text),
            other => {
                let items = self.list(other, "tools", false);
                rejoin_tools(items)
            }
        }
    }

    /// Whatever is left in `map` is unmodelled: keep it under its dotted path.
    fn leftovers(&mut self, map: Mapping, parent: &str) {
        for (key, value) in map {
            self.extra
                .insert(join(parent, &key_text(key)), to_json(value));
        }
    }

    fn definition(
        &mut self,
        root: &mut Mapping,
        system_prompt: SystemPrompt,
    ) -> Option<AgentDefinition> {
        let mut agent = self.mapping(root, "", "agent");
        let (shape, prefix) = match agent {
            Some(_) => (DefinitionShape::Nested, "agent"),
            None => (DefinitionShape::Flat, ""),
        };
        let identity = agent.as_mut().unwrap_or(root);
        let name = self.name(identity, prefix);
        let raw_id = self.string(identity, prefix, "id");
        let display_name = self.string(identity, prefix, "display_name");
        let version = self.version(identity, prefix);
        if let Some(agent) = agent {
            self.leftovers(agent, "agent");
        }
        let id = match raw_id.as_deref().map(str::trim) {
            None | Some("") => name.as_ref().map(AgentId::from_name),
            Some(text) => match Uuid::parse_str(text) {
                Ok(uuid) => Some(AgentId(uuid)),
                Err(_) => {
                    self.issue(
                        &join(prefix, "id"),
                        IssueKind::Uuid {
                            value: text.to_owned(),
                        },
                    );
                    None
                }
            },
        };

        let description = self.string(root, "", "description").unwrap_or_default();
        let author = self.string(root, "", "author");
        let tags = self.take_list(root, "", "tags", true);
        let capabilities = self.capabilities(root);
        let model = self.model(root);
        let nats = self.nats(root);
        let deployment = self.deployment(root);
        let dependencies = self.dependencies(root);
        let tools = Self::take(root, "tools").map(|value| self.tools(value));

        let (name, id) = (name?, id?);
        Some(AgentDefinition {
            id,
            display_name: display_name.unwrap_or_else(|| name.to_string()),
            name,
            version,
            description,
            author,
            tags,
            capabilities,
            model,
            nats,
            deployment,
            dependencies,
            tools,
            system_prompt,
            extra: BTreeMap::new(),
            shape,
        })
    }

    fn name(&mut self, map: &mut Mapping, prefix: &str) -> Option<AgentName> {
        let path = join(prefix, "name");
        let Some(text) = self.string(map, prefix, "name") else {
            if !self.issues.iter().any(|i| i.field == path) {
                self.issue(
                    &path,
                    IssueKind::Missing {
                        add: "a `name:` line with lowercase letters, digits and '-', like `name: code-reviewer` (it names the agent's NATS subjects and container)",
                    },
                );
            }
            return None;
        };
        match AgentName::new(text.clone()) {
            Ok(name) => Some(name),
            Err(reason) => {
                let suggestion = AgentName::suggest(&text).map(String::from);
                self.issue(
                    &path,
                    IssueKind::Name {
                        value: text,
                        reason,
                        suggestion,
                    },
                );
                None
            }
        }
    }

    /// `None` without an issue when the file has no `version`: an unversioned definition.
    fn version(&mut self, map: &mut Mapping, prefix: &str) -> Option<semver::Version> {
        let path = join(prefix, "version");
        let text = self.string(map, prefix, "version")?;
        match semver::Version::parse(text.trim()) {
            Ok(version) => Some(version),
            Err(_) if partial_version(&text).is_some() => {
                let version = partial_version(&text)?;
                self.warnings.push((
                    path.clone(),
                    self.locator.find(&path),
                    WarningKind::PartialVersion {
                        value: text,
                        read_as: version.to_string(),
                    },
                ));
                Some(version)
            }
            Err(error) => {
                self.issue(
                    &path,
                    IssueKind::Version {
                        value: text,
                        reason: error.to_string(),
                    },
                );
                None
            }
        }
    }

    /// A list, or a mapping of category to list (flattened in file order).
    fn capabilities(&mut self, root: &mut Mapping) -> Vec<String> {
        match Self::take(root, "capabilities") {
            None => Vec::new(),
            Some(Value::Mapping(groups)) => {
                let mut all = Vec::new();
                for (group, items) in groups {
                    let path = join("capabilities", &key_text(group));
                    match untag(items) {
                        Value::Null => {}
                        items => all.extend(self.list(items, &path, false)),
                    }
                }
                all
            }
            Some(other) => self.list(other, "capabilities", false),
        }
    }

    fn parameters(&mut self, map: &mut Mapping, path: &str, into: &mut ModelParameters) {
        if let Some(value) = self.float(map, path, "temperature", (0.0, 2.0)) {
            into.temperature = Some(value);
        }
        if let Some(value) = self.whole(map, path, "max_tokens", (1, 1_000_000)) {
            into.max_tokens = Some(value);
        }
        if let Some(value) = self.float(map, path, "top_p", (0.0, 1.0)) {
            into.top_p = Some(value);
        }
        if let Some(value) = self.whole(map, path, "top_k", (1, u32::MAX)) {
            into.top_k = Some(value);
        }
    }

    fn model(&mut self, root: &mut Mapping) -> ModelConfig {
        let mut model = ModelConfig::default();
        match Self::take(root, "model") {
            None => {}
            Some(Value::Mapping(mut map)) => {
                model.provider = self.string(&mut map, "model", "provider");
                model.name = self.string(&mut map, "model", "name");
                // The provider's own block (`ollama: {url, model}`) holds endpoint and model.
                let block = model
                    .provider
                    .clone()
                    .unwrap_or_else(|| "ollama".to_owned());
                let block_path = join("model", &block);
                if let Some(mut inner) = self.mapping(&mut map, "model", &block) {
                    if model.provider.is_none() {
                        model.provider = Some(block.clone());
                    }
                    model.endpoint = self.string(&mut inner, &block_path, "url");
                    if let Some(name) = self.string(&mut inner, &block_path, "model") {
                        model.name = Some(name);
                    }
                    self.leftovers(inner, &block_path);
                }
                if let Some(mut parameters) = self.mapping(&mut map, "model", "parameters") {
                    self.parameters(&mut parameters, "model.parameters", &mut model.parameters);
                    self.leftovers(parameters, "model.parameters");
                }
                model.rationale = self.string(&mut map, "model", "rationale");
                model.alternatives = match Self::take(&mut map, "alternatives") {
                    None => Vec::new(),
                    Some(Value::Sequence(items)) => items.into_iter().map(to_json).collect(),
                    Some(single) => vec![to_json(single)],
                };
                self.leftovers(map, "model");
            }
            Some(other) => match scalar_text(&other) {
                Some(alias) => model.alias = Some(alias),
                None => {
                    let found = type_name(&other);
                    self.issue(
                        "model",
                        IssueKind::WrongType {
                            expected: "a string or a mapping",
                            found,
                        },
                    );
                }
            },
        }
        if let Some(mut preferences) = self.mapping(root, "", "model_preferences") {
            let path = "model_preferences";
            if let Some(provider) = self.string(&mut preferences, path, "provider") {
                model.preferences.provider = Some(provider.clone());
                model.provider.get_or_insert(provider);
            }
            if let Some(name) = self.string(&mut preferences, path, "model") {
                model.preferences.model = Some(name.clone());
                model.name.get_or_insert(name);
            }
            self.parameters(&mut preferences, path, &mut model.parameters);
            self.leftovers(preferences, path);
        }
        model
    }

    fn nats(&mut self, root: &mut Mapping) -> NatsConfig {
        let mut nats = NatsConfig::default();
        let Some(mut map) = self.mapping(root, "", "nats") else {
            return nats;
        };
        if let Some(url) = self.string(&mut map, "nats", "url") {
            match super::nats_url_problem(&url) {
                None => nats.url = Some(url),
                Some(problem) => {
                    self.issue(
                        "nats.url",
                        IssueKind::NatsUrl {
                            value: url,
                            problem,
                        },
                    );
                }
            }
        }
        if let Some(mut subjects) = self.mapping(&mut map, "nats", "subjects") {
            nats.subjects = NatsSubjects {
                commands: self.subjects(&mut subjects, "commands"),
                events: self.subjects(&mut subjects, "events"),
                queries: self.subjects(&mut subjects, "queries"),
            };
            self.leftovers(subjects, "nats.subjects");
        }
        self.leftovers(map, "nats");
        nats
    }

    fn subjects(&mut self, map: &mut Mapping, key: &str) -> Option<Subjects> {
        let path = join("nats.subjects", key);
        let subjects = match Self::take(map, key)? {
            Value::String(subject) => Subjects::One(subject),
            Value::Mapping(named) => {
                let mut out = BTreeMap::new();
                for (name, subject) in named {
                    let name = key_text(name);
                    match untag(subject) {
                        Value::String(subject) => {
                            out.insert(name, subject);
                        }
                        other => {
                            let found = type_name(&other);
                            self.issue(
                                &join(&path, &name),
                                IssueKind::WrongType {
                                    expected: "a subject string",
                                    found,
                                },
                            );
                        }
                    }
                }
                Subjects::Named(out)
            }
            other => Subjects::Many(self.list(other, &path, false)),
        };
        for subject in subjects.all() {
            if !valid_subject(subject) {
                self.issue(
                    &path,
                    IssueKind::Subject {
                        value: subject.to_owned(),
                    },
                );
            }
        }
        Some(subjects)
    }

    fn deployment(&mut self, root: &mut Mapping) -> DeploymentConfig {
        let mut deployment = DeploymentConfig::default();
        let Some(mut map) = self.mapping(root, "", "deployment") else {
            return deployment;
        };
        deployment.target_node = self.string(&mut map, "deployment", "target_node");
        if deployment
            .target_node
            .as_deref()
            .is_some_and(|n| n.trim().is_empty())
        {
            self.issue("deployment.target_node", IssueKind::Empty);
            deployment.target_node = None;
        }
        if let Some(mut resources) = self.mapping(&mut map, "deployment", "resources") {
            deployment.resources = self.resources(&mut resources);
            self.leftovers(resources, "deployment.resources");
        }
        if let Some(mut restart) = self.mapping(&mut map, "deployment", "restart") {
            let path = "deployment.restart";
            let policy = self.string(&mut restart, path, "policy");
            deployment.restart = RestartConfig {
                policy: policy.and_then(|text| {
                    let parsed = RestartPolicy::parse(&text);
                    if parsed.is_none() {
                        self.issue(
                            "deployment.restart.policy",
                            IssueKind::NotOneOf {
                                value: text,
                                allowed: RestartPolicy::ALLOWED,
                            },
                        );
                    }
                    parsed
                }),
                interval_sec: self.whole(&mut restart, path, "interval_sec", (0, u32::MAX)),
                max_retries: self.whole(&mut restart, path, "max_retries", (0, u32::MAX)),
            };
            self.leftovers(restart, path);
        }
        if let Some(mut logging) = self.mapping(&mut map, "deployment", "logging") {
            let path = "deployment.logging";
            let level = self.string(&mut logging, path, "level");
            deployment.logging = LoggingConfig {
                level: level.and_then(|text| {
                    let parsed = LogLevel::parse(&text);
                    if parsed.is_none() {
                        self.issue(
                            "deployment.logging.level",
                            IssueKind::NotOneOf {
                                value: text,
                                allowed: LogLevel::ALLOWED,
                            },
                        );
                    }
                    parsed
                }),
                format: self.string(&mut logging, path, "format").filter(|text| {
                    let known = LOG_FORMATS.contains(&text.as_str());
                    if !known {
                        self.issue(
                            "deployment.logging.format",
                            IssueKind::NotOneOf {
                                value: text.clone(),
                                allowed: "json, text",
                            },
                        );
                    }
                    known
                }),
            };
            self.leftovers(logging, path);
        }
        self.leftovers(map, "deployment");
        deployment
    }

    fn resources(&mut self, map: &mut Mapping) -> Resources {
        let path = "deployment.resources";
        let memory_max = self.string(map, path, "memory_max").and_then(|text| {
            MemoryMax::parse(text.trim())
                .map_err(|error| self.issue("deployment.resources.memory_max", error.into()))
                .ok()
        });
        let cpu_quota = self.string(map, path, "cpu_quota").and_then(|text| {
            CpuQuota::parse(text.trim())
                .map_err(|error| self.issue("deployment.resources.cpu_quota", error.into()))
                .ok()
        });
        let tasks_max = self.whole(map, path, "tasks_max", (1, u32::MAX));
        let gpus = self.whole(map, path, "gpus", (0, 64));
        Resources {
            memory_max,
            cpu_quota,
            tasks_max,
            gpus,
        }
    }

    /// A list (all required) or `{required, optional, relationships}`.
    fn dependencies(&mut self, root: &mut Mapping) -> Dependencies {
        match Self::take(root, "dependencies") {
            None => Dependencies::default(),
            Some(Value::Mapping(mut map)) => {
                let dependencies = Dependencies {
                    required: self.take_list(&mut map, "dependencies", "required", false),
                    optional: self.take_list(&mut map, "dependencies", "optional", false),
                    relationships: Self::take(&mut map, "relationships").map(to_json),
                };
                self.leftovers(map, "dependencies");
                dependencies
            }
            Some(other) => Dependencies {
                required: self.list(other, "dependencies", false),
                ..Dependencies::default()
            },
        }
    }
}

/// `1`, `1.2`, `v1.2.3` (one to three whole numbers, an optional leading `v`): the semantic
/// version they stand for, missing parts 0. Anything else is `None`.
fn partial_version(text: &str) -> Option<semver::Version> {
    let text = text.trim();
    let text = text.strip_prefix(['v', 'V']).unwrap_or(text);
    let parts: Vec<u64> = text
        .split('.')
        .map(|part| {
            if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                None
            } else {
                part.parse().ok()
            }
        })
        .collect::<Option<_>>()?;
    match parts.as_slice() {
        [major] => Some(semver::Version::new(*major, 0, 0)),
        [major, minor] => Some(semver::Version::new(*major, *minor, 0)),
        [major, minor, patch] => Some(semver::Version::new(*major, *minor, *patch)),
        _ => None,
    }
}

/// Dot-separated non-empty tokens without whitespace; `*` and `>` wildcards are allowed.
fn valid_subject(subject: &str) -> bool {
    !subject.is_empty()
        && subject
            .split('.')
            .all(|token| !token.is_empty() && !token.chars().any(char::is_whitespace))
}
