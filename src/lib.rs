//! fluxprobe: throughput tests and continuous probing of FLUX image-generation APIs.
//!
//! One flow serves every use (see DESIGN.md): a [`probe`] sends one generate request through the
//! [`api`] client and ends as a [`probe::ProbeRecord`]; [`bench`] drives probes once and reports,
//! [`serve`] drives them forever and exports metrics, and [`sim`] is the simulated FLUX API on the
//! other side of the wire.

pub mod api;
pub mod bench;
pub mod cli;
pub mod exit;
pub mod logging;
pub mod outcome;
pub mod probe;
pub mod redact;
pub mod serve;
pub mod sim;
pub mod stats;
