//! The simulation driver and its building blocks.
//!
//! The driver (added with the engine) is the only owner of the [`EventQueue`]; components take
//! `&mut self, now, inputs` and return decisions or push follow-up events into an effects buffer
//! that the driver applies.

mod queue;

pub use queue::EventQueue;
