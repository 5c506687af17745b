//! The one place tract is used: reading an ONNX file's metadata properties and graph signature,
//! building an optimised plan, running it on one row.
//!
//! tract is behind the `infer` cargo feature (it is two thirds of the static aarch64 binary).
//! Without the feature, `OnnxFile::parse` refuses every file with `LoadError::NotBuilt`, so a
//! controller build without inference still reads its config and says plainly why no model
//! serves, and the rest of `infer` (features, contracts, updates) compiles unchanged.
//!
//! Must never: panic on a file's content (the registry also wraps loading in `catch_unwind`,
//! because tract is not written for hostile input).

use super::error::LoadError;
use super::model_type::ModelType;
use std::collections::BTreeMap;

/// A parsed ONNX file: what the registry checks before it builds a plan.
pub struct OnnxFile {
    /// `metadata_props`, key -> value.
    pub props: BTreeMap<String, String>,
    /// Number of graph inputs.
    pub inputs: usize,
    /// Graph output names, in order.
    pub outputs: Vec<String>,
    #[cfg(feature = "infer")]
    proto: tract_onnx::pb::ModelProto,
    #[cfg(not(feature = "infer"))]
    never: std::convert::Infallible,
}

#[cfg(feature = "infer")]
mod imp {
    use super::*;
    use tract_onnx::prelude::*;

    /// An optimised tract plan for a `[1, F]` f32 input.
    #[derive(Debug)]
    pub struct Plan(TypedRunnableModel<TypedModel>);

    impl OnnxFile {
        pub fn parse(model_type: ModelType, bytes: &[u8]) -> Result<OnnxFile, LoadError> {
            let proto = tract_onnx::onnx()
                .proto_model_for_read(&mut &bytes[..])
                .map_err(|e| LoadError::NotOnnx {
                    model_type,
                    reason: e.to_string(),
                })?;
            let graph = proto.graph.as_ref().ok_or_else(|| LoadError::NotOnnx {
                model_type,
                reason: "no graph".into(),
            })?;
            Ok(OnnxFile {
                props: proto
                    .metadata_props
                    .iter()
                    .map(|p| (p.key.clone(), p.value.clone()))
                    .collect(),
                inputs: graph.input.len(),
                outputs: graph.output.iter().map(|o| o.name.clone()).collect(),
                proto,
            })
        }

        /// Builds the plan for `n_features` inputs and checks its outputs are f32 of exactly
        /// the shapes in `want` (the ones the agent will read).
        pub fn build(
            &self,
            mt: ModelType,
            n_features: usize,
            want: &[Vec<usize>],
        ) -> Result<Plan, LoadError> {
            let tract = |e: TractError| LoadError::Tract {
                model_type: mt,
                reason: format!("{e:#}"),
            };
            let model = tract_onnx::onnx()
                .model_for_proto_model(&self.proto)
                .map_err(tract)?
                .with_input_fact(0, f32::fact([1, n_features]).into())
                .map_err(tract)?
                .into_optimized()
                .map_err(tract)?;
            if model.outputs.len() != want.len() {
                return Err(LoadError::Contract {
                    model_type: mt,
                    reason: format!("{} outputs, expected {}", model.outputs.len(), want.len()),
                });
            }
            for (i, w) in want.iter().enumerate() {
                let fact = model.output_fact(i).map_err(tract)?;
                let shape: Option<Vec<usize>> = fact.shape.as_concrete().map(<[usize]>::to_vec);
                if fact.datum_type != f32::datum_type() || shape.as_ref() != Some(w) {
                    return Err(LoadError::Contract {
                        model_type: mt,
                        reason: format!("output {i} is {fact:?}, expected f32 {w:?}"),
                    });
                }
            }
            model.into_runnable().map(Plan).map_err(tract)
        }
    }

    impl Plan {
        /// Runs one `[1, row.len()]` row; every output flattened.
        pub fn run(&self, row: &[f32]) -> Result<Vec<Vec<f32>>, String> {
            let input = Tensor::from_shape(&[1, row.len()], row).map_err(|e| e.to_string())?;
            let outputs = self
                .0
                .run(tvec!(input.into_tvalue()))
                .map_err(|e| e.to_string())?;
            outputs
                .iter()
                .map(|t| {
                    t.as_slice::<f32>()
                        .map(<[f32]>::to_vec)
                        .map_err(|e| e.to_string())
                })
                .collect()
        }
    }
}

#[cfg(not(feature = "infer"))]
mod imp {
    use super::*;

    /// Never built: this agent was compiled without the `infer` feature.
    #[derive(Debug)]
    pub enum Plan {}

    impl OnnxFile {
        pub fn parse(model_type: ModelType, _bytes: &[u8]) -> Result<OnnxFile, LoadError> {
            Err(LoadError::NotBuilt { model_type })
        }

        pub fn build(
            &self,
            _mt: ModelType,
            _n_features: usize,
            _want: &[Vec<usize>],
        ) -> Result<Plan, LoadError> {
            match self.never {}
        }
    }

    impl Plan {
        pub fn run(&self, _row: &[f32]) -> Result<Vec<Vec<f32>>, String> {
            match *self {}
        }
    }
}

pub use imp::Plan;

/// Whether this agent can serve models at all (built with the `infer` feature).
pub const BUILT_IN: bool = cfg!(feature = "infer");
