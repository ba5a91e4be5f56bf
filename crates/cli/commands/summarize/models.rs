//! The models a summary needs, loaded when first needed: the translation
//! model (`-m`: a GGUF, or an encoder-decoder directory such as NLLB or
//! OPUS-MT), the instruction model that writes summaries (`--summarizer`,
//! else `-m` when it is a GGUF, else the default model), and the sentence
//! embedder (grounded and extractive summaries).

use std::path::PathBuf;

use anyhow::{Context, Result};
use tarjoman_batch::chunk::chunks;
use tarjoman_engine::generate::GenerationConfig;
use tarjoman_engine::summarize::{self, Article, GroundedOptions, Summary};
use tarjoman_engine::translate::{Event, RecordKind};
use tarjoman_engine::{TranslateOptions, TranslationModel};
use tarjoman_models::causal::CausalLm;
use tarjoman_models::embed::SentenceEmbedder;

use super::args::Method;
use crate::model::{LmSource, LoadedLm, TranslationSource};

/// Text translated in one go; longer articles are translated piece by
/// piece (bounded memory), the pieces' sentences joined in order.
pub const TRANSLATE_CHUNK_BYTES: usize = 64 * 1024;

/// Where the models are (resolved once), for [`Models`].
#[derive(Debug, Clone)]
pub struct Sources {
    /// `-m` (else the default model); `None` when nothing needs it.
    pub translation: Option<TranslationSource>,
    /// `--summarizer`, or the default model when `-m` is not a GGUF.
    pub summarizer: Option<LmSource>,
    pub embedder: Option<PathBuf>,
    /// Whether `method` has a model write the summary.
    writes: bool,
}

impl Sources {
    /// Resolves (and fetches) what `method` needs; `translates`: whether
    /// articles may need translating (Persian input). An English article
    /// summarized by `lead` or `extractive` needs no language model, so
    /// none is fetched.
    pub fn resolve(
        model: Option<&str>,
        summarizer: Option<&str>,
        method: Method,
        translates: bool,
    ) -> Result<Self> {
        let writes = matches!(method, Method::Grounded | Method::Abstractive);
        // `-m` writes the summary too unless --summarizer names another.
        let translation = match translates || (writes && summarizer.is_none()) {
            true => Some(crate::model::resolve_translation_model(model)?),
            false => None,
        };
        let summarizer = match (summarizer, &translation) {
            (Some(name), _) if writes => Some(crate::model::resolve_lm(Some(name))?),
            (Some(_), _) | (None, None | Some(TranslationSource::Gguf(_))) => None,
            (None, Some(TranslationSource::Dir { .. })) if writes => {
                Some(crate::model::resolve_lm(None)?)
            }
            (None, Some(TranslationSource::Dir { .. })) => None,
        };
        let embedder = match method {
            Method::Grounded | Method::Extractive => Some(crate::model::resolve_embedder()?),
            Method::Abstractive | Method::Lead => None,
        };
        Ok(Self {
            translation,
            summarizer,
            embedder,
            writes,
        })
    }

    /// The translation model, if one was resolved.
    pub fn translation(&self) -> Result<&TranslationSource> {
        self.translation
            .as_ref()
            .context("no translation model was resolved for this run")
    }

    /// The name of the model that writes summaries; `None` for methods
    /// that select article sentences.
    pub fn summarizer_name(&self) -> Option<&str> {
        match (&self.summarizer, &self.translation) {
            _ if !self.writes => None,
            (Some(s), _) => Some(&s.name),
            (None, Some(t)) => Some(t.name()),
            (None, None) => None,
        }
    }
}

/// A translated article: the sentences to summarize, and the full
/// translation (with metadata and layout) for the reader.
pub struct Translated {
    pub article: Article,
    pub full: String,
}

/// One worker's models, loaded when first needed.
pub struct Models<'a> {
    sources: &'a Sources,
    translation: Option<TranslationModel>,
    summarizer: Option<LoadedLm>,
    embedder: Option<SentenceEmbedder>,
}

impl<'a> Models<'a> {
    pub fn new(sources: &'a Sources) -> Self {
        Self {
            sources,
            translation: None,
            summarizer: None,
            embedder: None,
        }
    }

    fn translation(&mut self) -> Result<&mut TranslationModel> {
        if self.translation.is_none() {
            self.translation = Some(self.sources.translation()?.load()?);
        }
        self.translation
            .as_mut()
            .context("translation model not loaded")
    }

    /// The model that writes summaries and its prompt format.
    fn writer(&mut self) -> Result<(&mut CausalLm, &str)> {
        if let Some(source) = &self.sources.summarizer {
            if self.summarizer.is_none() {
                self.summarizer = Some(source.load()?);
            }
            let loaded = self.summarizer.as_mut().context("summarizer not loaded")?;
            return Ok((&mut loaded.lm, loaded.format.as_str()));
        }
        let name = self.sources.translation()?.name().to_string();
        self.translation()?.gguf_mut().with_context(|| {
            format!("{name} is not a GGUF model; name one that writes summaries with --summarizer")
        })
    }

    fn embedder(&mut self) -> Result<&SentenceEmbedder> {
        if self.embedder.is_none() {
            let dir = self
                .sources
                .embedder
                .as_deref()
                .context("no sentence embedder resolved")?;
            self.embedder = Some(SentenceEmbedder::load(dir)?);
        }
        self.embedder
            .as_ref()
            .context("sentence embedder not loaded")
    }

    /// Translates a Persian article with the translation model.
    pub fn translate(&mut self, text: &str, opts: &TranslateOptions) -> Result<Translated> {
        let mut translator = self.translation()?.translator(opts.clone())?;
        let mut article = Article::default();
        let mut full = String::new();
        let mut offset = 0;
        for chunk in chunks(text, TRANSLATE_CHUNK_BYTES) {
            translator.translate_document(chunk, |event| -> Result<()> {
                match event {
                    Event::Verbatim(s) => full.push_str(s),
                    Event::Record(r) => {
                        full.push_str(&r.translation);
                        // Metadata (`date 2025-11-08`) is not prose to summarize.
                        if r.kind != RecordKind::Metadata {
                            article.push_record(r, offset);
                        }
                    }
                    Event::Translated => {}
                }
                Ok(())
            })?;
            offset += chunk.len();
        }
        Ok(Translated { article, full })
    }

    /// Summarizes `article` by `method`.
    pub fn summarize(
        &mut self,
        article: &Article,
        method: Method,
        generation: &GenerationConfig,
    ) -> Result<Summary> {
        Ok(match method {
            Method::Grounded => {
                // Both models at once: load the embedder first.
                self.embedder()?;
                let opts = GroundedOptions {
                    generation: generation.clone(),
                    ..Default::default()
                };
                let embedder = self.embedder.take().context("embedder not loaded")?;
                let result = self.writer().and_then(|(lm, format)| {
                    Ok(summarize::grounded(lm, format, &embedder, article, &opts)?)
                });
                self.embedder = Some(embedder);
                result?
            }
            Method::Abstractive => {
                let (lm, format) = self.writer()?;
                summarize::abstractive(lm, format, article, generation)?
            }
            Method::Extractive => summarize::extractive(self.embedder()?, article)?,
            Method::Lead => summarize::lead(article)?,
        })
    }
}
