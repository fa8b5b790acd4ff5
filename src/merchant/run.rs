//! Starting the merchant messaging's tasks: one lane worker per channel and
//! the sweeper, over a [`Service`].

use std::sync::Arc;

use super::service::Service;

/// Starts the lane workers and the sweeper.
pub fn start(svc: &Arc<Service>) {
    for channel in super::Channel::ALL {
        super::dispatch::spawn_lane(svc.clone(), channel);
    }
    super::reconcile::spawn_sweeper(svc.clone());
}
