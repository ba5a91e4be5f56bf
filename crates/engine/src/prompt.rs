//! Prompt formats and task prompts, loaded from `prompts.toml` (embedded at
//! build time) so that wording and chat templates are data, not code.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::{Error, Result};

const BUILTIN: &str = include_str!("../prompts.toml");

/// How a conversation is laid out for one model family.
#[derive(Debug, Clone, Deserialize)]
pub struct Format {
    #[serde(default)]
    pub system: Option<String>,
    #[serde(default)]
    pub system_in_user: bool,
    pub user: String,
    pub assistant: String,
    pub generation: String,
    #[serde(default)]
    pub stop: Vec<String>,
    /// Worked examples a task prompt shows unless told otherwise.
    #[serde(default)]
    pub shots: usize,
}

/// One worked example (a user turn and the expected answer).
#[derive(Debug, Clone, Deserialize)]
pub struct Example {
    pub source: String,
    pub target: String,
}

/// The instructions and examples for one task.
#[derive(Debug, Clone, Deserialize)]
pub struct TaskPrompt {
    pub system: String,
    pub source_label: String,
    pub target_label: String,
    #[serde(default)]
    pub examples: Vec<Example>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PromptBook {
    pub formats: BTreeMap<String, Format>,
    pub tasks: BTreeMap<String, TaskPrompt>,
}

/// A rendered prompt and the strings that end the model's answer.
#[derive(Debug, Clone)]
pub struct Prompt {
    pub text: String,
    pub stop: Vec<String>,
}

impl PromptBook {
    pub fn builtin() -> Result<Self> {
        Self::from_toml(BUILTIN)
    }

    pub fn from_toml(text: &str) -> Result<Self> {
        toml::from_str(text).map_err(|e| Error::Prompt(e.to_string()))
    }

    pub fn format(&self, name: &str) -> Result<&Format> {
        self.formats.get(name).ok_or_else(|| {
            let known: Vec<_> = self.formats.keys().map(String::as_str).collect();
            Error::Prompt(format!(
                "unknown prompt format `{name}` (known: {})",
                known.join(", ")
            ))
        })
    }

    pub fn task(&self, name: &str) -> Result<&TaskPrompt> {
        self.tasks
            .get(name)
            .ok_or_else(|| Error::Prompt(format!("unknown task `{name}`")))
    }
}

impl Format {
    /// Renders the system prompt, up to `shots` examples, and `input` as the
    /// last user turn, ending where the model's answer begins.
    pub fn render(&self, task: &TaskPrompt, shots: usize, input: &str) -> Prompt {
        self.render_with_note(task, shots, input, None)
    }

    /// [`Format::render`] with a note after the input in the last user turn
    /// (e.g. glossary entries or what a retry must keep). It comes after
    /// everything a prompt shares with the previous one, so the cached
    /// prefix is still reused.
    pub fn render_with_note(
        &self,
        task: &TaskPrompt,
        shots: usize,
        input: &str,
        note: Option<&str>,
    ) -> Prompt {
        self.render_in_context(task, shots, &[], input, note)
    }

    /// [`Format::render_with_note`] with earlier turns of the same
    /// conversation: `context` pairs (source, answer) go after the worked
    /// examples, as if the model had answered them (translating a document,
    /// the previous sentence and its translation).
    pub fn render_in_context(
        &self,
        task: &TaskPrompt,
        shots: usize,
        context: &[(&str, &str)],
        input: &str,
        note: Option<&str>,
    ) -> Prompt {
        let fill = |template: &str, content: &str| {
            template
                .replace("{source_label}", &task.source_label)
                .replace("{target_label}", &task.target_label)
                .replace("{content}", content)
        };
        let mut text = String::new();
        let mut pending_system = None;
        match (&self.system, self.system_in_user) {
            (Some(system), false) => text.push_str(&fill(system, &task.system)),
            _ => pending_system = Some(task.system.as_str()),
        }
        let mut user_turn = |text: &mut String, content: &str| {
            let content = match pending_system.take() {
                Some(system) => format!("{system}\n\n{content}"),
                None => content.to_string(),
            };
            text.push_str(&fill(&self.user, &content));
        };
        let examples = task.examples.iter().take(shots);
        let turns = examples
            .map(|e| (e.source.as_str(), e.target.as_str()))
            .chain(context.iter().copied());
        for (source, answer) in turns {
            user_turn(&mut text, source);
            text.push_str(&fill(&self.assistant, answer));
        }
        user_turn(&mut text, &with_note(input, note));
        text.push_str(&fill(&self.generation, ""));
        Prompt {
            text,
            stop: self.stop.clone(),
        }
    }
}

/// A user turn's content: the input, and the note (if any) after it in
/// parentheses. Earlier turns of a conversation show their notes too, so
/// that a prompt starts with the previous one and the model's cache of it
/// is reused.
pub fn with_note(input: &str, note: Option<&str>) -> String {
    match note {
        Some(note) => format!("{input}\n\n({note})"),
        None => input.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_prompts_parse_and_have_the_tasks() {
        let book = PromptBook::builtin().unwrap();
        for f in ["chatml", "gemma", "fewshot"] {
            book.format(f).unwrap();
        }
        let examples = book.task("translate").unwrap().examples.len();
        assert!(examples >= 2);
        // A base model only continues a pattern: its format must show
        // examples by default, and no format may ask for more than exist.
        assert!(book.format("fewshot").unwrap().shots >= 1);
        for f in ["chatml", "gemma", "fewshot"] {
            assert!(book.format(f).unwrap().shots <= examples, "{f}");
        }
        book.task("summarize").unwrap();
        assert!(book.format("nope").is_err());
    }

    /// System prompt `SYS`, labels `A`/`B`, one example `x` -> `y`.
    fn one_example_task() -> TaskPrompt {
        TaskPrompt {
            system: "SYS".into(),
            source_label: "A".into(),
            target_label: "B".into(),
            examples: vec![Example {
                source: "x".into(),
                target: "y".into(),
            }],
        }
    }

    #[test]
    fn chatml_render_matches_the_qwen_template() {
        let book = PromptBook::builtin().unwrap();
        let task = one_example_task();
        let p = book.format("chatml").unwrap().render(&task, 1, "q");
        assert_eq!(
            p.text,
            "<|im_start|>system\nSYS<|im_end|>\n<|im_start|>user\nx<|im_end|>\n<|im_start|>assistant\ny<|im_end|>\n<|im_start|>user\nq<|im_end|>\n<|im_start|>assistant\n"
        );
        assert_eq!(p.stop, vec!["<|im_end|>", "<|endoftext|>"]);
    }

    #[test]
    fn context_turns_follow_the_examples_as_answered_turns() {
        let book = PromptBook::builtin().unwrap();
        let task = one_example_task();
        let p = book.format("chatml").unwrap().render_in_context(
            &task,
            1,
            &[("prev", "earlier")],
            "q",
            Some("note"),
        );
        assert_eq!(
            p.text,
            "<|im_start|>system\nSYS<|im_end|>\n<|im_start|>user\nx<|im_end|>\n<|im_start|>assistant\ny<|im_end|>\n<|im_start|>user\nprev<|im_end|>\n<|im_start|>assistant\nearlier<|im_end|>\n<|im_start|>user\nq\n\n(note)<|im_end|>\n<|im_start|>assistant\n"
        );
    }

    #[test]
    fn a_prompt_with_a_note_starts_the_next_prompt_of_its_conversation() {
        // Earlier turns keep their notes, so the model's cache of a prompt
        // serves the next one.
        let book = PromptBook::builtin().unwrap();
        let task = one_example_task();
        for name in ["chatml", "gemma"] {
            let format = book.format(name).unwrap();
            let first = format.render_with_note(&task, 1, "a", Some("n"));
            let shown = with_note("a", Some("n"));
            let next = format.render_in_context(&task, 1, &[(&shown, "A")], "b", None);
            assert!(next.text.starts_with(&first.text), "{name}: {}", next.text);
        }
        assert_eq!(with_note("a", None), "a");
    }

    #[test]
    fn gemma_folds_the_system_prompt_into_the_first_user_turn() {
        let book = PromptBook::builtin().unwrap();
        let task = TaskPrompt {
            system: "SYS".into(),
            source_label: "A".into(),
            target_label: "B".into(),
            examples: vec![],
        };
        let p = book.format("gemma").unwrap().render(&task, 0, "q");
        assert_eq!(
            p.text,
            "<start_of_turn>user\nSYS\n\nq<end_of_turn>\n<start_of_turn>model\n"
        );
    }

    #[test]
    fn fewshot_uses_the_task_labels() {
        let book = PromptBook::builtin().unwrap();
        let task = book.task("translate").unwrap();
        let p = book.format("fewshot").unwrap().render(task, 1, "سلام");
        assert!(p.text.contains("Persian: سلام\nEnglish:"));
        assert!(p.text.ends_with("English:"));
        assert!(p
            .text
            .contains(&format!("English: {}\n\n", task.examples[0].target)));
    }
}
