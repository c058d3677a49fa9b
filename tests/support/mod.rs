//! Shared support for the crash-safety tests.
#![allow(dead_code)]

pub mod crash;
pub mod workloads;
