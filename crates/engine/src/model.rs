//! [`TranslationModel`]: a loaded model of either kind, ready to hand out
//! [`Translator`]s.
//!
//! Loading takes paths that exist (finding files by name, fetching and
//! verifying them is the registry's job, done by the caller):
//!
//! - a GGUF file: a decoder-only model translating through a prompt in the
//!   format its chat template names (a model without one is a base model
//!   and gets few-shot prompts);
//! - a directory with `config.json`: an encoder-decoder translation model
//!   (Marian / OPUS-MT, M2M100 / NLLB-200, T5 / MADLAD-400), or a
//!   decoder-only one (gemma3, qwen2, qwen3, llama) in full precision,
//!   prompted in its family's chat format.

use std::path::Path;

use tarjoman_models::causal::{self, CausalLm};
use tarjoman_models::config::{self, Family};
use tarjoman_models::dense::DenseLm;
use tarjoman_models::seq2seq::Seq2SeqLm;

use crate::translate::translator::ModelMut;
use crate::translate::{ModelKind, TranslateOptions, Translator};
use crate::{Error, Result};

/// A translation model of either kind, with how to run it.
pub struct TranslationModel {
    name: String,
    backbone: Backbone,
}

enum Backbone {
    Gguf {
        lm: Box<CausalLm>,
        format: String,
    },
    Dense {
        lm: Box<DenseLm>,
        format: String,
    },
    Seq2Seq {
        lm: Box<Seq2SeqLm>,
        target_prefix: Option<String>,
    },
}

impl TranslationModel {
    /// Loads a GGUF file (with a `tokenizer.json` beside it if there is
    /// one, else the tokenizer the GGUF carries) or a model directory; see
    /// the module docs. The model is named by its path.
    pub fn load(path: &Path) -> Result<Self> {
        let name = path.display().to_string();
        if path.is_dir() {
            return Self::load_dir(path, name);
        }
        let sibling = path.with_file_name("tokenizer.json");
        let lm = CausalLm::load(path, sibling.is_file().then_some(sibling.as_path()))?;
        Ok(Self::gguf(lm, None, name))
    }

    /// A loaded GGUF model prompted in `format` (a prompt format of
    /// `prompts.toml`; `None`: the one its chat template names).
    pub fn gguf(lm: CausalLm, format: Option<&str>, name: impl Into<String>) -> Self {
        let format = format.map_or_else(|| format_for(&lm).to_string(), str::to_string);
        Self {
            name: name.into(),
            backbone: Backbone::Gguf {
                lm: Box::new(lm),
                format,
            },
        }
    }

    /// A loaded encoder-decoder model. MADLAD-400 (T5) is told the target
    /// language before each source (`<2en> `); see
    /// [`Self::with_target_prefix`].
    pub fn seq2seq(lm: Seq2SeqLm, name: impl Into<String>) -> Self {
        let target_prefix = (lm.family() == Family::T5).then(|| "<2en> ".to_string());
        Self {
            name: name.into(),
            backbone: Backbone::Seq2Seq {
                lm: Box::new(lm),
                target_prefix,
            },
        }
    }

    fn load_dir(dir: &Path, name: String) -> Result<Self> {
        let config_path = dir.join("config.json");
        if !config_path.is_file() {
            return Err(Error::ModelFiles {
                path: config_path,
                reason: "not found; a model directory needs config.json, safetensors weights \
                         and tokenizer.json (an OPUS-MT, NLLB / M2M100 or MADLAD-400 \
                         checkpoint, or a gemma3 / qwen2 / qwen3 / llama one)"
                    .into(),
            });
        }
        let config = config::read(&config_path)?;
        if !config.family.is_seq2seq() {
            let lm = DenseLm::load(dir)?;
            if lm.tokenizer.is_none() {
                return Err(Error::ModelFiles {
                    path: dir.join("tokenizer.json"),
                    reason: "not found; a decoder-only model directory needs its tokenizer".into(),
                });
            }
            let format = family_format(config.family).to_string();
            return Ok(Self {
                name,
                backbone: Backbone::Dense {
                    lm: Box::new(lm),
                    format,
                },
            });
        }
        let lm = Seq2SeqLm::load(dir)?;
        if !lm.has_tokenizer() {
            return Err(Error::ModelFiles {
                path: dir.join("tokenizer.json"),
                reason: "not found; an encoder-decoder model directory needs its \
                         tokenizer.json (or, for Marian / OPUS-MT, source.spm, target.spm \
                         and vocab.json)"
                    .into(),
            });
        }
        Ok(Self::seq2seq(lm, name))
    }

    /// Replaces what an encoder-decoder model's sources start with (T5
    /// checkpoints other than MADLAD-400 may want none); no effect on a
    /// prompted model.
    pub fn with_target_prefix(mut self, prefix: Option<&str>) -> Self {
        if let Backbone::Seq2Seq { target_prefix, .. } = &mut self.backbone {
            *target_prefix = prefix.map(str::to_string);
        }
        self
    }

    /// The name given at load (a path, a manifest name or a repo id).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Renames the model (e.g. to the manifest name it was found by).
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    pub fn kind(&self) -> ModelKind {
        match self.backbone {
            Backbone::Gguf { .. } | Backbone::Dense { .. } => ModelKind::Prompted,
            Backbone::Seq2Seq { .. } => ModelKind::EncoderDecoder,
        }
    }

    /// The prompt format (`None`: an encoder-decoder model, no prompt).
    pub fn prompt_format(&self) -> Option<&str> {
        match &self.backbone {
            Backbone::Gguf { format, .. } | Backbone::Dense { format, .. } => Some(format),
            Backbone::Seq2Seq { .. } => None,
        }
    }

    /// The GGUF model, for what only it does (abstractive summaries,
    /// benchmarks); `None` for the other backbones.
    pub fn gguf_mut(&mut self) -> Option<(&mut CausalLm, &str)> {
        match &mut self.backbone {
            Backbone::Gguf { lm, format } => Some((lm, format)),
            _ => None,
        }
    }

    /// A translator with `opts`, ready for one document after another.
    /// Options the model cannot honor are an error naming them
    /// ([`TranslateOptions::for_kind`]).
    pub fn translator(&mut self, opts: TranslateOptions) -> Result<Translator<'_>> {
        let model = match &mut self.backbone {
            Backbone::Gguf { lm, format } => ModelMut::Gguf { lm, format },
            Backbone::Dense { lm, format } => ModelMut::Dense { lm, format },
            Backbone::Seq2Seq { lm, target_prefix } => ModelMut::Seq2Seq {
                lm,
                target_prefix: target_prefix.as_deref(),
            },
        };
        Translator::new(model, opts)
    }
}

/// The chat format a family's instruction-tuned models were trained on.
pub fn family_format(family: Family) -> &'static str {
    match family {
        Family::Gemma3 => "gemma",
        _ => "chatml",
    }
}

/// A GGUF model's prompt format: the one its chat template names; a model
/// without one is a base model and gets few-shot prompts.
pub fn format_for(lm: &CausalLm) -> &'static str {
    match lm.info.chat_template.as_deref() {
        Some(t) if t.contains("<|im_start|>") => "chatml",
        Some(t) if t.contains("<start_of_turn>") => "gemma",
        Some(_) => gguf_family_format(lm.info.family),
        None => "fewshot",
    }
}

/// [`family_format`] for a GGUF model's family.
pub fn gguf_family_format(family: causal::Family) -> &'static str {
    match family {
        causal::Family::Qwen2 | causal::Family::Qwen3 | causal::Family::Llama => "chatml",
        causal::Family::Gemma3 => "gemma",
    }
}
