//! The box methods and their parameters.

use crate::error::{Error, Result};

/// How boxes from several workers become one set of boxes per image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
#[serde(rename_all = "kebab-case")]
pub enum BoxMethod {
    /// Worker-aware EM (the default): each worker's miss rate, false-positive
    /// rate and localisation error are learnt from the data; boxes are
    /// matched to objects by the Hungarian method and fused with
    /// inverse-variance weights; each box gets P(the object exists).
    #[default]
    Lean,
    /// Ground Truth's: per class, boxes of different workers clustered by
    /// IoU, a cluster kept when drawn by at least `quorum` of the image's
    /// workers, box = the members' mean.
    IouMean,
    /// Weighted box fusion as ensemble-boxes does it, with each worker's
    /// estimated precision as the weight and no two boxes of one worker in a
    /// cluster.
    Wbf,
    /// CVAT's consensus: the `iou-mean` clusters, box = the member closest
    /// to the cluster's mean.
    Medoid,
}

impl BoxMethod {
    /// Every method, the default first.
    pub const ALL: [BoxMethod; 4] = [
        BoxMethod::Lean,
        BoxMethod::IouMean,
        BoxMethod::Wbf,
        BoxMethod::Medoid,
    ];

    /// The name the CLI and the outputs use.
    pub fn name(self) -> &'static str {
        match self {
            BoxMethod::Lean => "lean",
            BoxMethod::IouMean => "iou-mean",
            BoxMethod::Wbf => "wbf",
            BoxMethod::Medoid => "medoid",
        }
    }

    /// One line about the method.
    pub fn summary(self) -> &'static str {
        match self {
            BoxMethod::Lean => "worker-aware EM: miss, false-positive and localisation error per worker; P(object exists) per box (the default)",
            BoxMethod::IouMean => "Ground Truth's: IoU clusters across workers kept at --quorum, mean box",
            BoxMethod::Wbf => "weighted box fusion (ensemble-boxes) with worker precision as the weight",
            BoxMethod::Medoid => "CVAT's consensus: the member box closest to the cluster mean",
        }
    }

    /// The method called `name`.
    pub fn from_name(name: &str) -> Option<BoxMethod> {
        BoxMethod::ALL.into_iter().find(|m| m.name() == name)
    }

    /// The IoU at which two boxes may be the same object, unless `iou` is set.
    pub fn default_iou(self) -> f64 {
        match self {
            // Lean's threshold only proposes matches: EM decides which
            // clusters are objects and weights members by their worker's
            // localisation error, so a looser match joins the boxes of a
            // sloppy worker to the object instead of making a second one.
            BoxMethod::Lean => 0.3,
            BoxMethod::IouMean | BoxMethod::Medoid => 0.5,
            // ensemble-boxes' default `iou_thr`.
            BoxMethod::Wbf => 0.55,
        }
    }
}

/// Parameters of the box methods; [`BoxParams::new`] gives the CLI's defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct BoxParams {
    /// The method.
    pub method: BoxMethod,
    /// Minimum IoU for two boxes to be matched; `None` takes the method's
    /// [`BoxMethod::default_iou`].
    pub iou: Option<f64>,
    /// `iou-mean`, `medoid`, `wbf`: keep a cluster drawn by at least this
    /// share of the workers who answered the image (for `wbf`, this share of
    /// their weight).
    pub quorum: f64,
    /// `lean`: keep a box whose probability of existing is at least this.
    pub min_confidence: f64,
    /// `lean`: most EM iterations per matching round.
    pub max_iter: usize,
    /// `lean`: stop when the log-likelihood changes by less than this, relatively.
    pub tol: f64,
    /// Seed of the tie-breaks between classes.
    pub seed: u32,
}

impl BoxParams {
    /// The defaults of `method`.
    pub fn new(method: BoxMethod) -> BoxParams {
        BoxParams {
            method,
            iou: None,
            quorum: 0.5,
            min_confidence: 0.5,
            max_iter: 100,
            tol: 1e-6,
            seed: 0,
        }
    }

    /// The IoU threshold in force.
    pub fn iou_threshold(&self) -> f64 {
        self.iou.unwrap_or(self.method.default_iou())
    }

    /// Checks every value's range.
    pub fn validate(&self) -> Result<()> {
        if let Some(iou) = self.iou {
            if !(iou > 0.0 && iou <= 1.0) {
                return Err(Error::invalid_param(
                    "iou",
                    format!("must be in (0, 1], not {iou}"),
                ));
            }
        }
        if !(self.quorum > 0.0 && self.quorum <= 1.0) {
            return Err(Error::invalid_param(
                "quorum",
                format!("must be in (0, 1], not {}", self.quorum),
            ));
        }
        if !(self.min_confidence > 0.0 && self.min_confidence < 1.0) {
            return Err(Error::invalid_param(
                "min_confidence",
                format!("must be in (0, 1), not {}", self.min_confidence),
            ));
        }
        if self.max_iter == 0 {
            return Err(Error::invalid_param("max_iter", "must be at least 1"));
        }
        if !(self.tol.is_finite() && self.tol >= 0.0) {
            return Err(Error::invalid_param(
                "tol",
                format!("must be ≥ 0, not {}", self.tol),
            ));
        }
        Ok(())
    }
}
