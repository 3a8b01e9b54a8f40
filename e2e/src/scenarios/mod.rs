//! The stand-in phase: what real pods cannot serve on this machine (engines
//! and versions with no image here), on kwok nodes with real database
//! servers standing in for the containers.

mod mysql;

use crate::cluster::Outcome;
use crate::harness::Env;
use std::future::Future;
use std::pin::Pin;

pub type Scenario = for<'a> fn(&'a Env) -> Pin<Box<dyn Future<Output = Outcome> + 'a>>;

pub fn all() -> Vec<(&'static str, Scenario)> {
    vec![(
        "stand-ins: mysql 8.4, mariadb 11.4, redis 7.4 (no image here) admitted and Ready, official images named",
        |e| Box::pin(mysql::every_engine(e)),
    )]
}
