//! The layers of the network: attention, the feed-forward block, the
//! encoder and decoder layers, and the residual connection around each
//! sub-layer (pre-norm for M2M100, post-norm for Marian).

use candle_core::{Module, Tensor};
use candle_nn::{Activation, LayerNorm, Linear};

use super::cache::LayerCache;
use super::config::Config;
use super::tensors::Prefixed;
use crate::Result;

pub(super) struct Attention {
    q_proj: Linear,
    k_proj: Linear,
    v_proj: Linear,
    out_proj: Linear,
    heads: usize,
    head_dim: usize,
}

impl Attention {
    fn load(p: &Prefixed, dim: usize, heads: usize) -> Result<Self> {
        Ok(Self {
            q_proj: p.linear("q_proj", dim, dim)?,
            k_proj: p.linear("k_proj", dim, dim)?,
            v_proj: p.linear("v_proj", dim, dim)?,
            out_proj: p.linear("out_proj", dim, dim)?,
            heads,
            head_dim: dim / heads,
        })
    }

    /// (batch, len, dim) -> (batch, heads, len, head_dim).
    fn split_heads(&self, xs: &Tensor) -> Result<Tensor> {
        let (b, t, _) = xs.dims3()?;
        Ok(xs
            .reshape((b, t, self.heads, self.head_dim))?
            .transpose(1, 2)?
            .contiguous()?)
    }

    pub(super) fn keys_values(&self, xs: &Tensor) -> Result<(Tensor, Tensor)> {
        Ok((
            self.split_heads(&self.k_proj.forward(xs)?)?,
            self.split_heads(&self.v_proj.forward(xs)?)?,
        ))
    }

    /// Attends from `xs` to `keys`/`values`; `bias` is added to the scores
    /// (0 where allowed, -inf where masked) and broadcast over heads.
    fn attend(
        &self,
        xs: &Tensor,
        keys: &Tensor,
        values: &Tensor,
        bias: Option<&Tensor>,
    ) -> Result<Tensor> {
        let (b, t, dim) = xs.dims3()?;
        let q = self.split_heads(&self.q_proj.forward(xs)?)?;
        // transformers scales the scores, not the queries; same order here.
        let scale = (self.head_dim as f64).powf(-0.5);
        let mut scores = (q.matmul(&keys.t()?)? * scale)?;
        if let Some(bias) = bias {
            scores = scores.broadcast_add(bias)?;
        }
        let weights = candle_nn::ops::softmax_last_dim(&scores)?;
        let out = weights
            .matmul(values)?
            .transpose(1, 2)?
            .reshape((b, t, dim))?;
        Ok(self.out_proj.forward(&out)?)
    }
}

struct FeedForward {
    fc1: Linear,
    fc2: Linear,
    activation: Activation,
}

impl FeedForward {
    fn load(p: &Prefixed, dim: usize, ffn_dim: usize, activation: Activation) -> Result<Self> {
        Ok(Self {
            fc1: p.linear("fc1", dim, ffn_dim)?,
            fc2: p.linear("fc2", ffn_dim, dim)?,
            activation,
        })
    }

    fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        let hidden = self.activation.forward(&self.fc1.forward(xs)?)?;
        Ok(self.fc2.forward(&hidden)?)
    }
}

pub(super) struct EncoderLayer {
    self_attn: Attention,
    self_attn_layer_norm: LayerNorm,
    ffn: FeedForward,
    final_layer_norm: LayerNorm,
}

impl EncoderLayer {
    pub(super) fn load(p: &Prefixed, config: &Config) -> Result<Self> {
        let dim = config.d_model;
        Ok(Self {
            self_attn: Attention::load(&p.pp("self_attn"), dim, config.encoder_attention_heads)?,
            self_attn_layer_norm: p.layer_norm("self_attn_layer_norm", dim)?,
            ffn: FeedForward::load(p, dim, config.encoder_ffn_dim, config.activation_function)?,
            final_layer_norm: p.layer_norm("final_layer_norm", dim)?,
        })
    }

    pub(super) fn forward(&self, xs: &Tensor, bias: &Tensor, pre_norm: bool) -> Result<Tensor> {
        let attend = |x: &Tensor| -> Result<Tensor> {
            let (k, v) = self.self_attn.keys_values(x)?;
            self.self_attn.attend(x, &k, &v, Some(bias))
        };
        let xs = residual(xs, &self.self_attn_layer_norm, pre_norm, attend)?;
        residual(&xs, &self.final_layer_norm, pre_norm, |x| {
            self.ffn.forward(x)
        })
    }
}

pub(super) struct DecoderLayer {
    self_attn: Attention,
    self_attn_layer_norm: LayerNorm,
    pub(super) encoder_attn: Attention,
    encoder_attn_layer_norm: LayerNorm,
    ffn: FeedForward,
    final_layer_norm: LayerNorm,
}

impl DecoderLayer {
    pub(super) fn load(p: &Prefixed, config: &Config) -> Result<Self> {
        let dim = config.d_model;
        let heads = config.decoder_attention_heads;
        Ok(Self {
            self_attn: Attention::load(&p.pp("self_attn"), dim, heads)?,
            self_attn_layer_norm: p.layer_norm("self_attn_layer_norm", dim)?,
            encoder_attn: Attention::load(&p.pp("encoder_attn"), dim, heads)?,
            encoder_attn_layer_norm: p.layer_norm("encoder_attn_layer_norm", dim)?,
            ffn: FeedForward::load(p, dim, config.decoder_ffn_dim, config.activation_function)?,
            final_layer_norm: p.layer_norm("final_layer_norm", dim)?,
        })
    }

    pub(super) fn forward(
        &self,
        xs: &Tensor,
        causal: Option<&Tensor>,
        cache: &mut LayerCache,
        cross_bias: &Tensor,
        pre_norm: bool,
    ) -> Result<Tensor> {
        let self_kv = &mut cache.self_kv;
        let xs = residual(xs, &self.self_attn_layer_norm, pre_norm, |x| {
            let (k, v) = self.self_attn.keys_values(x)?;
            let (k, v) = match self_kv.as_ref() {
                Some((past_k, past_v)) => (
                    Tensor::cat(&[past_k, &k], 2)?,
                    Tensor::cat(&[past_v, &v], 2)?,
                ),
                None => (k, v),
            };
            let attended = self.self_attn.attend(x, &k, &v, causal)?;
            *self_kv = Some((k, v));
            Ok(attended)
        })?;
        let (k, v) = &cache.cross_kv;
        let xs = residual(&xs, &self.encoder_attn_layer_norm, pre_norm, |x| {
            self.encoder_attn.attend(x, k, v, Some(cross_bias))
        })?;
        residual(&xs, &self.final_layer_norm, pre_norm, |x| {
            self.ffn.forward(x)
        })
    }
}

/// One sub-layer with its residual connection: pre-norm (M2M100)
/// `x + f(LN(x))`, or post-norm (Marian) `LN(x + f(x))`.
fn residual(
    xs: &Tensor,
    norm: &LayerNorm,
    pre_norm: bool,
    sublayer: impl FnOnce(&Tensor) -> Result<Tensor>,
) -> Result<Tensor> {
    if pre_norm {
        let out = sublayer(&norm.forward(xs)?)?;
        Ok((xs + out)?)
    } else {
        let out = sublayer(xs)?;
        Ok(norm.forward(&(xs + out)?)?)
    }
}
