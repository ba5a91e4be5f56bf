//! What the model reads for a sentence: a prompt in the model's chat or
//! few-shot format (decoder-only models), or the sentence itself (an
//! encoder-decoder model's source, tokenized before the run).

use std::sync::Arc;

use tokenizers::Tokenizer;

use crate::prompt::{Format, TaskPrompt};
use crate::Result;

/// Builds a sentence's model input while the model runs.
pub(crate) enum Prompter {
    /// A prompt around the sentence (instructions, worked examples, the
    /// sentences before it with their translations, a note).
    Chat(Box<ChatPrompter>),
    /// The normalized sentence itself, tokenized as the encoder's input
    /// when the sentence is prepared.
    Source,
}

/// A decoder-only model's prompts; it shares the model's tokenizer.
pub(crate) struct ChatPrompter {
    pub(crate) format: Format,
    pub(crate) task: TaskPrompt,
    pub(crate) shots: usize,
    /// The token every prompt starts with, if the model wants one.
    pub(crate) bos: Option<u32>,
    pub(crate) tokenizer: Arc<Tokenizer>,
}

impl Prompter {
    /// The label the prompt gives the answer (`English`), which a model may
    /// echo and the output drops; none for an encoder-decoder model.
    pub(crate) fn label(&self) -> Option<&str> {
        match self {
            Prompter::Chat(chat) => Some(&chat.task.target_label),
            Prompter::Source => None,
        }
    }
}

impl ChatPrompter {
    /// The token ids of a sentence's prompt, and its stop strings.
    pub(crate) fn ids(
        &self,
        text: &str,
        context: &[(&str, &str)],
        note: Option<&str>,
    ) -> Result<(Vec<u32>, Vec<String>)> {
        let prompt = self
            .format
            .render_in_context(&self.task, self.shots, context, text, note);
        let mut ids: Vec<u32> = self.bos.into_iter().collect();
        ids.extend(tarjoman_models::tokenizer::encode(
            &self.tokenizer,
            &prompt.text,
        )?);
        Ok((ids, prompt.stop))
    }
}
