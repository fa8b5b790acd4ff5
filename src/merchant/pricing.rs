//! The price list behind usage reports: what the platform charges a unit of
//! each channel (an SMS segment, a voice minute, an email), the markup on it,
//! and the provider cost to assume where a provider reported none. Built in,
//! or a TOML file (`--pricing`):
//!
//! ```toml
//! markup_percent = 30.0
//! [sms]
//! unit_price = 0.02
//! provider_cost = 0.0079
//! [voice]
//! unit_price = 0.05
//! provider_cost = 0.014
//! [email]
//! unit_price = 0.002
//! provider_cost = 0.0001
//! ```

use serde::Deserialize;

/// One channel's prices (US dollars).
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelPrice {
    /// What a merchant pays per unit before the markup.
    pub unit_price: f64,
    /// The provider cost per unit assumed when a provider reported none.
    pub provider_cost: f64,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pricing {
    /// The platform's markup on the unit price, in percent.
    pub markup_percent: f64,
    pub sms: ChannelPrice,
    pub voice: ChannelPrice,
    pub email: ChannelPrice,
}

impl Default for Pricing {
    fn default() -> Self {
        Pricing {
            markup_percent: 30.0,
            sms: ChannelPrice {
                unit_price: 0.02,
                provider_cost: 0.0079,
            },
            voice: ChannelPrice {
                unit_price: 0.05,
                provider_cost: 0.014,
            },
            email: ChannelPrice {
                unit_price: 0.002,
                provider_cost: 0.0001,
            },
        }
    }
}

impl Pricing {
    pub fn load(path: &std::path::Path) -> Result<Pricing, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let p: Pricing = toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        let all = [p.sms, p.voice, p.email];
        if p.markup_percent < 0.0
            || all
                .iter()
                .any(|c| c.unit_price < 0.0 || c.provider_cost < 0.0)
        {
            return Err(format!("{}: prices must not be negative", path.display()));
        }
        Ok(p)
    }

    pub fn channel(&self, channel: &str) -> ChannelPrice {
        match channel {
            "SMS" => self.sms,
            "VOICE" => self.voice,
            _ => self.email,
        }
    }
}

/// A report's money (dollars, rounded to cents at the end).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Charges {
    /// What the providers cost (reported, else assumed from the list).
    pub provider_cost: f64,
    /// The markup on the units' price.
    pub markup: f64,
    /// What the merchant pays: units × unit price + markup.
    pub final_charges: f64,
}

/// The charges for `units` of `channel` whose providers reported
/// `reported_micros` for all but `unpriced` of `count` messages.
pub fn charge(
    p: &Pricing,
    channel: &str,
    units: i64,
    count: i64,
    reported_micros: i64,
    unpriced: i64,
) -> Charges {
    let c = p.channel(channel);
    let base = units as f64 * c.unit_price;
    let markup = base * p.markup_percent / 100.0;
    let assumed = if count > 0 {
        unpriced as f64 * (units as f64 / count as f64) * c.provider_cost
    } else {
        0.0
    };
    Charges {
        provider_cost: reported_micros as f64 / 1e6 + assumed,
        markup,
        final_charges: base + markup,
    }
}

/// Rounds dollars to cents.
pub fn cents(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charges_add_the_markup_and_assume_unreported_costs() {
        let p = Pricing::default();
        let c = charge(&p, "SMS", 100, 100, 0, 100);
        assert!((c.final_charges - 2.6).abs() < 1e-9, "{c:?}");
        assert!((c.markup - 0.6).abs() < 1e-9);
        assert!((c.provider_cost - 0.79).abs() < 1e-9);
        // reported costs are used as reported
        let c = charge(&p, "SMS", 10, 10, 40_000, 0);
        assert!((c.provider_cost - 0.04).abs() < 1e-9);
        assert_eq!(cents(1.2345), 1.23);
    }

    #[test]
    fn a_price_file_is_checked() {
        let dir = tempfile::tempdir().expect("dir");
        let f = dir.path().join("p.toml");
        std::fs::write(&f, "markup_percent = 10.0\n[sms]\nunit_price = 0.01\nprovider_cost = 0.004\n[voice]\nunit_price = 0.1\nprovider_cost = 0.01\n[email]\nunit_price = 0.001\nprovider_cost = 0.0\n").expect("write");
        assert_eq!(Pricing::load(&f).expect("load").markup_percent, 10.0);
        std::fs::write(&f, "markup_percent = 10.0\n").expect("write");
        assert!(Pricing::load(&f).is_err());
    }
}
