//! The performance model: hardware and model catalog (step-time model to come).

pub mod catalog;
