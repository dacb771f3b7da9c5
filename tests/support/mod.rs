//! Helpers shared by the end-to-end tests.

#![allow(dead_code)]

pub mod app;
pub mod driver;
pub mod dunst;
pub mod server;
pub mod webdriver;
