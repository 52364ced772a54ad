//! End-to-end tests: real validator processes on loopback, real consensus, real files.
//! Scenarios are named after their fault model (n4 = four validators).

mod bad_input;
mod byzantine;
mod cli;
mod explorer_api;
mod explorer_browser;
mod faults;
mod history;
mod limits;
mod load;
mod n4_commit;
mod n4_crash;
mod n4_governance;
mod n4_quorum;
mod n4_state;
mod n4_trade;
mod observer;
mod openapi_hostile;
mod outsider;
mod partition;
mod support;
mod wan;
