//! The scenario's model, GPU and calibration sections: a preset id or an inline definition, so
//! a share link reproduces a model or GPU that is not in the catalog.

use std::fmt;
use std::marker::PhantomData;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::calibrate::StepProfile;
use crate::perf::{catalog, Dtype, Factors, GpuSpec, ModelSpec};

/// The model and its number formats. Written as a preset id (`"llama-3.1-8b"`) or as an object
/// `{"preset": …}` or `{"config": {…}}` (a Hugging Face `config.json`, inline).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ModelChoice {
    /// Model preset id (see [`catalog::MODELS`]); `null` when `config` gives the model.
    /// Default `"llama-3.1-8b"`.
    pub preset: Option<String>,
    /// The model's Hugging Face `config.json` as a JSON object, for a model that is not a
    /// preset. Default `null`.
    pub config: Option<Value>,
    /// Format of the matrices: `"bf16"`, `"fp8"`, `"fp4"` or `"int4"`; `null` (the default)
    /// takes the checkpoint's own (`quantization_config`, BF16 when it states none).
    pub weights: Option<Dtype>,
    /// Format of the KV cache: `"bf16"` (default) or `"fp8"`.
    pub kv_cache: Dtype,
}

impl Default for ModelChoice {
    fn default() -> Self {
        ModelChoice { preset: Some(default_preset()), config: None, weights: None, kv_cache: Dtype::Bf16 }
    }
}

fn default_preset() -> String {
    "llama-3.1-8b".to_owned()
}

impl ModelChoice {
    /// The preset `id` with the checkpoint's formats.
    pub fn preset(id: &str) -> ModelChoice {
        ModelChoice { preset: Some(id.to_owned()), ..ModelChoice::default() }
    }

    /// The architecture: the preset's or the inline config's.
    ///
    /// # Errors
    ///
    /// Returns a message when the preset is unknown, the config does not read, or both or
    /// neither are given.
    pub fn spec(&self) -> Result<ModelSpec, String> {
        match (&self.preset, &self.config) {
            (Some(_), Some(_)) => Err("give model.preset or model.config, not both".to_owned()),
            (None, None) => Err("give model.preset or model.config".to_owned()),
            (None, Some(config)) => ModelSpec::from_hf_value(config),
            (Some(id), None) => catalog::model(id)
                .map(|preset| preset.spec())
                .ok_or_else(|| format!("unknown model \"{id}\"; known: {}", catalog::model_ids())),
        }
    }

    /// The field a problem with [`ModelChoice::spec`] concerns.
    pub fn spec_path(&self) -> &'static str {
        if self.config.is_some() {
            "model.config"
        } else {
            "model.preset"
        }
    }

    /// The weight format to run: the chosen one, or the checkpoint's own. A checkpoint in FP4
    /// on a GPU without FP4 tensor cores runs weight-only, as vLLM's Marlin kernels run MXFP4 on
    /// Hopper: 4-bit storage, BF16 compute, which is [`Dtype::Int4`]'s behaviour.
    pub fn weights_for(&self, model: &ModelSpec, gpu: &GpuSpec) -> Dtype {
        match (self.weights, model.native_weights) {
            (Some(chosen), _) => chosen,
            (None, Dtype::Fp4) if gpu.fp4_tflops.is_none() => Dtype::Int4,
            (None, native) => native,
        }
    }

    /// A short label: the preset id, or the inline config's `model_type`.
    pub fn label(&self) -> String {
        match (&self.preset, &self.config) {
            (Some(id), _) => id.clone(),
            (None, Some(config)) => {
                format!("custom {}", config.get("model_type").and_then(Value::as_str).unwrap_or("model"))
            }
            (None, None) => "no model".to_owned(),
        }
    }
}

/// The object form of [`ModelChoice`], with every field optional.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ModelFields {
    #[serde(default)]
    preset: Option<String>,
    #[serde(default)]
    config: Option<Value>,
    #[serde(default)]
    weights: Option<Dtype>,
    #[serde(default)]
    kv_cache: Dtype,
}

impl From<&str> for ModelChoice {
    fn from(preset: &str) -> ModelChoice {
        ModelChoice::preset(preset)
    }
}

impl From<ModelFields> for ModelChoice {
    fn from(fields: ModelFields) -> ModelChoice {
        let preset = match (&fields.preset, &fields.config) {
            (None, None) => Some(default_preset()),
            _ => fields.preset,
        };
        ModelChoice { preset, config: fields.config, weights: fields.weights, kv_cache: fields.kv_cache }
    }
}

impl<'de> Deserialize<'de> for ModelChoice {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        string_or_object::<_, ModelChoice, ModelFields>(
            deserializer,
            "a model preset id or {\"preset\" or \"config\", \"weights\", \"kv_cache\"}",
        )
    }
}

/// Reads `T` from a string (an id) or from an object read as `M`, whose own errors (unknown
/// fields, wrong types) come through with their paths.
fn string_or_object<'de, D, T, M>(deserializer: D, expecting: &'static str) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: for<'a> From<&'a str> + From<M>,
    M: Deserialize<'de>,
{
    struct StringOrObject<T, M> {
        expecting: &'static str,
        read: PhantomData<fn() -> (T, M)>,
    }

    impl<'de, T, M> serde::de::Visitor<'de> for StringOrObject<T, M>
    where
        T: for<'a> From<&'a str> + From<M>,
        M: Deserialize<'de>,
    {
        type Value = T;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.expecting)
        }

        fn visit_str<E: serde::de::Error>(self, id: &str) -> Result<T, E> {
            Ok(T::from(id))
        }

        fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
            M::deserialize(serde::de::value::MapAccessDeserializer::new(map)).map(T::from)
        }
    }

    deserializer.deserialize_any(StringOrObject::<T, M> { expecting, read: PhantomData })
}

/// The GPU: a catalog id (`"h100-sxm"`) or a custom GPU written inline with [`GpuSpec`]'s
/// fields.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum GpuChoice {
    /// A catalog GPU, by id.
    Preset(String),
    /// A GPU described inline.
    Custom(Box<GpuSpec>),
}

impl Default for GpuChoice {
    fn default() -> Self {
        GpuChoice::Preset("h100-sxm".to_owned())
    }
}

impl From<&str> for GpuChoice {
    fn from(id: &str) -> GpuChoice {
        GpuChoice::Preset(id.to_owned())
    }
}

impl GpuChoice {
    /// The GPU's specification, `None` for an unknown id.
    pub fn spec(&self) -> Option<&GpuSpec> {
        match self {
            GpuChoice::Preset(id) => catalog::gpu(id),
            GpuChoice::Custom(spec) => Some(spec),
        }
    }

    /// The catalog id, or `"custom"`.
    pub fn id(&self) -> &str {
        match self {
            GpuChoice::Preset(id) => id,
            GpuChoice::Custom(_) => "custom",
        }
    }
}

impl From<GpuSpec> for GpuChoice {
    fn from(spec: GpuSpec) -> GpuChoice {
        GpuChoice::Custom(Box::new(spec))
    }
}

impl<'de> Deserialize<'de> for GpuChoice {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        string_or_object::<_, GpuChoice, GpuSpec>(deserializer, "a GPU id or an object with the catalog's GPU fields")
    }
}

/// A calibration fitted to a benchmark (or a measured step-time profile), carried in the
/// scenario so a share link reruns with it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Calibration {
    /// The file it was fitted to, for display.
    #[serde(default)]
    pub source: String,
    /// Scale on every FLOP efficiency. Default 1.
    #[serde(default = "one")]
    pub compute: f64,
    /// Scale on every bandwidth efficiency. Default 1.
    #[serde(default = "one")]
    pub memory: f64,
    /// Scale on the CPU and launch overheads. Default 1.
    #[serde(default = "one")]
    pub overhead: f64,
    /// A measured step-time profile that replaces the roofline. Default `null`.
    #[serde(default)]
    pub profile: Option<StepProfile>,
}

fn one() -> f64 {
    1.0
}

impl Calibration {
    /// A calibration from `source` applying `factors` and, when given, a measured step profile.
    pub fn new(source: &str, factors: Factors, profile: Option<StepProfile>) -> Calibration {
        let Factors { compute, memory, overhead } = factors;
        Calibration { source: source.to_owned(), compute, memory, overhead, profile }
    }

    /// The factors the performance model applies.
    pub fn factors(&self) -> Factors {
        Factors { compute: self.compute, memory: self.memory, overhead: self.overhead }
    }
}
