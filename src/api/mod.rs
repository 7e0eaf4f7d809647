//! The FLUX API client: the only place that knows the service's paths and body shapes.
//! Every exchange has one deadline covering connect, headers and body, a cap on the body size,
//! and ends in either a response or an error already classified into an [`Outcome`].

pub mod client;
pub mod tls;
pub mod units;
pub mod wire;

pub use client::{ClientConfig, ClientError, Exchange, ExchangeError, FluxClient};

/// The four status endpoints scraped before a bench and by the daemon.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StatusEndpoint {
    Health,
    ModelStatus,
    GpuInfo,
    QueueStats,
}

impl StatusEndpoint {
    pub const ALL: [StatusEndpoint; 4] = [
        StatusEndpoint::Health,
        StatusEndpoint::ModelStatus,
        StatusEndpoint::GpuInfo,
        StatusEndpoint::QueueStats,
    ];

    pub fn path(self) -> &'static str {
        match self {
            StatusEndpoint::Health => "/health",
            StatusEndpoint::ModelStatus => "/model-status",
            StatusEndpoint::GpuInfo => "/gpu-info",
            StatusEndpoint::QueueStats => "/queue-stats",
        }
    }

    /// The `endpoint` label value.
    pub fn label(self) -> &'static str {
        match self {
            StatusEndpoint::Health => "health",
            StatusEndpoint::ModelStatus => "model_status",
            StatusEndpoint::GpuInfo => "gpu_info",
            StatusEndpoint::QueueStats => "queue_stats",
        }
    }
}

pub const PATH_GENERATE: &str = "/generate";
pub const PATH_SUBMIT: &str = "/submit-request";
pub const PATH_REQUEST_STATUS: &str = "/request-status/";
