//! What agents do to the engine themselves: log in and out (joining a queue as
//! a dynamic member), pause, and what the driver learns of them (a registered
//! device, another call); and the choices of theirs that outlive a restart.

use super::{Acd, Agent, AgentChoices, AgentKey, Member};
use crate::ids::QueueId;

impl Acd {
    /// Logs the agent in to `queue` (joining it as a dynamic member when not
    /// listed), or to every queue of its account that lists it. The number of
    /// queues it is now logged in to that it was not before.
    pub fn login(&mut self, agent: &AgentKey, queue: Option<&QueueId>) -> usize {
        let mut n = 0;
        for (key, q) in self.queues.iter_mut() {
            if key.0 != agent.0 || queue.is_some_and(|id| id != &key.1) {
                continue;
            }
            match q.members.iter_mut().find(|m| m.ext == agent.1) {
                Some(m) if !m.logged_in => {
                    m.logged_in = true;
                    n += 1;
                }
                Some(_) => {}
                None if queue.is_some() => {
                    q.members.push(Member {
                        ext: agent.1.clone(),
                        penalty: 0,
                        dynamic: true,
                        logged_in: true,
                        calls: 0,
                        last_end: None,
                    });
                    q.reindex();
                    n += 1;
                }
                None => {}
            }
        }
        if n > 0 {
            let a = self.agents.entry(agent.clone()).or_insert_with(Agent::new);
            a.paused = None;
        }
        n
    }

    /// Logs the agent out of `queue` or of all its queues (a dynamic member
    /// leaves the list). The number of queues it left.
    pub fn logout(&mut self, agent: &AgentKey, queue: Option<&QueueId>) -> usize {
        let mut n = 0;
        for (key, q) in self.queues.iter_mut() {
            if key.0 != agent.0 || queue.is_some_and(|id| id != &key.1) {
                continue;
            }
            if let Some(i) = q
                .members
                .iter()
                .position(|m| m.ext == agent.1 && m.logged_in)
            {
                n += 1;
                if q.members[i].dynamic {
                    q.members.remove(i);
                    q.reindex();
                } else {
                    q.members[i].logged_in = false;
                }
            }
        }
        n
    }

    /// Pauses the agent in all its queues (`None` unpauses). Whether it is known.
    pub fn pause(&mut self, agent: &AgentKey, reason: Option<String>) -> bool {
        match self.agents.get_mut(agent) {
            Some(a) => {
                a.paused = reason;
                true
            }
            None => false,
        }
    }

    /// Whether the agent has a registered device (the driver checks).
    pub fn set_reachable(&mut self, agent: &AgentKey, reachable: bool) {
        if let Some(a) = self.agents.get_mut(agent) {
            a.reachable = reachable;
        }
    }

    /// Whether the agent is on a call a queue did not give it (the driver
    /// checks): only queues with `ringinuse` offer it callers then.
    /// Whether the agent is on a call the queues did not give it; true when
    /// that changed what the engine knew.
    pub fn set_in_use(&mut self, agent: &AgentKey, in_use: bool) -> bool {
        match self.agents.get_mut(agent) {
            Some(a) if a.in_use != in_use => {
                a.in_use = in_use;
                true
            }
            _ => false,
        }
    }

    /// What an agent chose that differs from the dialplan: queues it logged
    /// in to (dynamic), queues it logged out from (static), its pause.
    pub fn agent_choices(&self, agent: &AgentKey) -> AgentChoices {
        let mut c = AgentChoices {
            paused: self.agents.get(agent).and_then(|a| a.paused.clone()),
            ..AgentChoices::default()
        };
        for (key, q) in self.queues.iter().filter(|(k, _)| k.0 == agent.0) {
            match q.members.iter().find(|m| m.ext == agent.1) {
                Some(m) if m.dynamic && m.logged_in => c.logged_in.push(key.1.clone()),
                Some(m) if !m.dynamic && !m.logged_in => c.logged_out.push(key.1.clone()),
                _ => {}
            }
        }
        c.logged_in.sort();
        c.logged_out.sort();
        c
    }
}
