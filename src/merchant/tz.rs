//! The recipient's probable time zone, from the E.164 number alone, so that
//! voice messages can be kept inside the 08:00–21:00 local calling window.
//! North American (+1) numbers resolve by area code; everywhere else resolves
//! by country calling code to the country's main (most populous) zone. It is
//! a guess — numbers port and people travel — and callers fall back on a default.

use chrono_tz::Tz;

/// The IANA zone for an E.164 number (`+` and 7–15 digits), or None when the
/// number is malformed, its country isn't known, or it is a +1 number whose
/// area code isn't geographic (toll-free, 5XX personal, 900, …) or isn't known.
pub fn zone_for(e164: &str) -> Option<Tz> {
    let digits = e164.strip_prefix('+')?;
    if !(7..=15).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if let Some(national) = digits.strip_prefix('1') {
        let npa: u16 = national.get(..3)?.parse().ok()?;
        return NANP
            .binary_search_by_key(&npa, |&(code, _)| code)
            .ok()
            .map(|i| NANP[i].1);
    }
    // Country codes are 1–3 digits; take the longest listed prefix (this is
    // what lets Kazakhstan's 76/77 win over Russia's 7).
    (1..=3).rev().find_map(|len| {
        let prefix = digits.get(..len)?;
        COUNTRIES
            .binary_search_by(|&(code, _)| code.cmp(prefix))
            .ok()
            .map(|i| COUNTRIES[i].1)
    })
}

use super::tz_nanp::NANP;

/// Country calling codes other than +1, sorted as strings, each to the
/// country's main zone. Countries spanning several zones (Russia, Brazil,
/// Mexico, Australia, Indonesia, DR Congo, …) get the zone of their largest
/// population centre. 7 is shared: 76/77 are Kazakhstan, the rest Russia.
const COUNTRIES: &[(&str, Tz)] = &[
    ("20", Tz::Africa__Cairo),                    // Egypt
    ("211", Tz::Africa__Juba),                    // South Sudan
    ("212", Tz::Africa__Casablanca),              // Morocco
    ("213", Tz::Africa__Algiers),                 // Algeria
    ("216", Tz::Africa__Tunis),                   // Tunisia
    ("218", Tz::Africa__Tripoli),                 // Libya
    ("220", Tz::Africa__Banjul),                  // Gambia
    ("221", Tz::Africa__Dakar),                   // Senegal
    ("222", Tz::Africa__Nouakchott),              // Mauritania
    ("223", Tz::Africa__Bamako),                  // Mali
    ("224", Tz::Africa__Conakry),                 // Guinea
    ("225", Tz::Africa__Abidjan),                 // Côte d'Ivoire
    ("226", Tz::Africa__Ouagadougou),             // Burkina Faso
    ("227", Tz::Africa__Niamey),                  // Niger
    ("228", Tz::Africa__Lome),                    // Togo
    ("229", Tz::Africa__PortoNovo),               // Benin
    ("230", Tz::Indian__Mauritius),               // Mauritius
    ("231", Tz::Africa__Monrovia),                // Liberia
    ("232", Tz::Africa__Freetown),                // Sierra Leone
    ("233", Tz::Africa__Accra),                   // Ghana
    ("234", Tz::Africa__Lagos),                   // Nigeria
    ("235", Tz::Africa__Ndjamena),                // Chad
    ("236", Tz::Africa__Bangui),                  // Central African Republic
    ("237", Tz::Africa__Douala),                  // Cameroon
    ("238", Tz::Atlantic__Cape_Verde),            // Cape Verde
    ("239", Tz::Africa__Sao_Tome),                // São Tomé and Príncipe
    ("240", Tz::Africa__Malabo),                  // Equatorial Guinea
    ("241", Tz::Africa__Libreville),              // Gabon
    ("242", Tz::Africa__Brazzaville),             // Republic of the Congo
    ("243", Tz::Africa__Kinshasa),                // DR Congo (west; the east is Africa/Lubumbashi)
    ("244", Tz::Africa__Luanda),                  // Angola
    ("245", Tz::Africa__Bissau),                  // Guinea-Bissau
    ("246", Tz::Indian__Chagos),                  // Diego Garcia
    ("247", Tz::Atlantic__St_Helena),             // Ascension
    ("248", Tz::Indian__Mahe),                    // Seychelles
    ("249", Tz::Africa__Khartoum),                // Sudan
    ("250", Tz::Africa__Kigali),                  // Rwanda
    ("251", Tz::Africa__Addis_Ababa),             // Ethiopia
    ("252", Tz::Africa__Mogadishu),               // Somalia
    ("253", Tz::Africa__Djibouti),                // Djibouti
    ("254", Tz::Africa__Nairobi),                 // Kenya
    ("255", Tz::Africa__Dar_es_Salaam),           // Tanzania
    ("256", Tz::Africa__Kampala),                 // Uganda
    ("257", Tz::Africa__Bujumbura),               // Burundi
    ("258", Tz::Africa__Maputo),                  // Mozambique
    ("260", Tz::Africa__Lusaka),                  // Zambia
    ("261", Tz::Indian__Antananarivo),            // Madagascar
    ("262", Tz::Indian__Reunion),                 // Réunion, Mayotte
    ("263", Tz::Africa__Harare),                  // Zimbabwe
    ("264", Tz::Africa__Windhoek),                // Namibia
    ("265", Tz::Africa__Blantyre),                // Malawi
    ("266", Tz::Africa__Maseru),                  // Lesotho
    ("267", Tz::Africa__Gaborone),                // Botswana
    ("268", Tz::Africa__Mbabane),                 // Eswatini
    ("269", Tz::Indian__Comoro),                  // Comoros
    ("27", Tz::Africa__Johannesburg),             // South Africa
    ("290", Tz::Atlantic__St_Helena),             // Saint Helena
    ("291", Tz::Africa__Asmara),                  // Eritrea
    ("297", Tz::America__Aruba),                  // Aruba
    ("298", Tz::Atlantic__Faroe),                 // Faroe Islands
    ("299", Tz::America__Nuuk),                   // Greenland
    ("30", Tz::Europe__Athens),                   // Greece
    ("31", Tz::Europe__Amsterdam),                // Netherlands
    ("32", Tz::Europe__Brussels),                 // Belgium
    ("33", Tz::Europe__Paris),                    // France
    ("34", Tz::Europe__Madrid),                   // Spain
    ("350", Tz::Europe__Gibraltar),               // Gibraltar
    ("351", Tz::Europe__Lisbon),                  // Portugal
    ("352", Tz::Europe__Luxembourg),              // Luxembourg
    ("353", Tz::Europe__Dublin),                  // Ireland
    ("354", Tz::Atlantic__Reykjavik),             // Iceland
    ("355", Tz::Europe__Tirane),                  // Albania
    ("356", Tz::Europe__Malta),                   // Malta
    ("357", Tz::Asia__Nicosia),                   // Cyprus
    ("358", Tz::Europe__Helsinki),                // Finland
    ("359", Tz::Europe__Sofia),                   // Bulgaria
    ("36", Tz::Europe__Budapest),                 // Hungary
    ("370", Tz::Europe__Vilnius),                 // Lithuania
    ("371", Tz::Europe__Riga),                    // Latvia
    ("372", Tz::Europe__Tallinn),                 // Estonia
    ("373", Tz::Europe__Chisinau),                // Moldova
    ("374", Tz::Asia__Yerevan),                   // Armenia
    ("375", Tz::Europe__Minsk),                   // Belarus
    ("376", Tz::Europe__Andorra),                 // Andorra
    ("377", Tz::Europe__Monaco),                  // Monaco
    ("378", Tz::Europe__San_Marino),              // San Marino
    ("380", Tz::Europe__Kyiv),                    // Ukraine
    ("381", Tz::Europe__Belgrade),                // Serbia
    ("382", Tz::Europe__Podgorica),               // Montenegro
    ("383", Tz::Europe__Belgrade),                // Kosovo
    ("385", Tz::Europe__Zagreb),                  // Croatia
    ("386", Tz::Europe__Ljubljana),               // Slovenia
    ("387", Tz::Europe__Sarajevo),                // Bosnia and Herzegovina
    ("389", Tz::Europe__Skopje),                  // North Macedonia
    ("39", Tz::Europe__Rome),                     // Italy, Vatican City
    ("40", Tz::Europe__Bucharest),                // Romania
    ("41", Tz::Europe__Zurich),                   // Switzerland
    ("420", Tz::Europe__Prague),                  // Czechia
    ("421", Tz::Europe__Bratislava),              // Slovakia
    ("423", Tz::Europe__Vaduz),                   // Liechtenstein
    ("43", Tz::Europe__Vienna),                   // Austria
    ("44", Tz::Europe__London),                   // United Kingdom, Channel Islands, Isle of Man
    ("45", Tz::Europe__Copenhagen),               // Denmark
    ("46", Tz::Europe__Stockholm),                // Sweden
    ("47", Tz::Europe__Oslo),                     // Norway
    ("48", Tz::Europe__Warsaw),                   // Poland
    ("49", Tz::Europe__Berlin),                   // Germany
    ("500", Tz::Atlantic__Stanley),               // Falkland Islands
    ("501", Tz::America__Belize),                 // Belize
    ("502", Tz::America__Guatemala),              // Guatemala
    ("503", Tz::America__El_Salvador),            // El Salvador
    ("504", Tz::America__Tegucigalpa),            // Honduras
    ("505", Tz::America__Managua),                // Nicaragua
    ("506", Tz::America__Costa_Rica),             // Costa Rica
    ("507", Tz::America__Panama),                 // Panama
    ("508", Tz::America__Miquelon),               // Saint Pierre and Miquelon
    ("509", Tz::America__PortauPrince),           // Haiti
    ("51", Tz::America__Lima),                    // Peru
    ("52", Tz::America__Mexico_City),             // Mexico
    ("53", Tz::America__Havana),                  // Cuba
    ("54", Tz::America__Argentina__Buenos_Aires), // Argentina
    ("55", Tz::America__Sao_Paulo),               // Brazil
    ("56", Tz::America__Santiago),                // Chile
    ("57", Tz::America__Bogota),                  // Colombia
    ("58", Tz::America__Caracas),                 // Venezuela
    ("590", Tz::America__Guadeloupe),             // Guadeloupe, Saint Martin, Saint Barthélemy
    ("591", Tz::America__La_Paz),                 // Bolivia
    ("592", Tz::America__Guyana),                 // Guyana
    ("593", Tz::America__Guayaquil),              // Ecuador
    ("594", Tz::America__Cayenne),                // French Guiana
    ("595", Tz::America__Asuncion),               // Paraguay
    ("596", Tz::America__Martinique),             // Martinique
    ("597", Tz::America__Paramaribo),             // Suriname
    ("598", Tz::America__Montevideo),             // Uruguay
    ("599", Tz::America__Curacao),                // Curaçao, Caribbean Netherlands
    ("60", Tz::Asia__Kuala_Lumpur),               // Malaysia
    ("61", Tz::Australia__Sydney),                // Australia
    ("62", Tz::Asia__Jakarta),                    // Indonesia
    ("63", Tz::Asia__Manila),                     // Philippines
    ("64", Tz::Pacific__Auckland),                // New Zealand
    ("65", Tz::Asia__Singapore),                  // Singapore
    ("66", Tz::Asia__Bangkok),                    // Thailand
    ("670", Tz::Asia__Dili),                      // Timor-Leste
    ("672", Tz::Pacific__Norfolk),                // Norfolk Island
    ("673", Tz::Asia__Brunei),                    // Brunei
    ("674", Tz::Pacific__Nauru),                  // Nauru
    ("675", Tz::Pacific__Port_Moresby),           // Papua New Guinea
    ("676", Tz::Pacific__Tongatapu),              // Tonga
    ("677", Tz::Pacific__Guadalcanal),            // Solomon Islands
    ("678", Tz::Pacific__Efate),                  // Vanuatu
    ("679", Tz::Pacific__Fiji),                   // Fiji
    ("680", Tz::Pacific__Palau),                  // Palau
    ("681", Tz::Pacific__Wallis),                 // Wallis and Futuna
    ("682", Tz::Pacific__Rarotonga),              // Cook Islands
    ("683", Tz::Pacific__Niue),                   // Niue
    ("685", Tz::Pacific__Apia),                   // Samoa
    ("686", Tz::Pacific__Tarawa),                 // Kiribati
    ("687", Tz::Pacific__Noumea),                 // New Caledonia
    ("688", Tz::Pacific__Funafuti),               // Tuvalu
    ("689", Tz::Pacific__Tahiti),                 // French Polynesia
    ("690", Tz::Pacific__Fakaofo),                // Tokelau
    ("691", Tz::Pacific__Pohnpei),                // Micronesia
    ("692", Tz::Pacific__Majuro),                 // Marshall Islands
    ("7", Tz::Europe__Moscow),                    // Russia
    ("76", Tz::Asia__Almaty),                     // Kazakhstan
    ("77", Tz::Asia__Almaty),                     // Kazakhstan
    ("81", Tz::Asia__Tokyo),                      // Japan
    ("82", Tz::Asia__Seoul),                      // South Korea
    ("84", Tz::Asia__Ho_Chi_Minh),                // Vietnam
    ("850", Tz::Asia__Pyongyang),                 // North Korea
    ("852", Tz::Asia__Hong_Kong),                 // Hong Kong
    ("853", Tz::Asia__Macau),                     // Macau
    ("855", Tz::Asia__Phnom_Penh),                // Cambodia
    ("856", Tz::Asia__Vientiane),                 // Laos
    ("86", Tz::Asia__Shanghai),                   // China
    ("880", Tz::Asia__Dhaka),                     // Bangladesh
    ("886", Tz::Asia__Taipei),                    // Taiwan
    ("90", Tz::Europe__Istanbul),                 // Turkey
    ("91", Tz::Asia__Kolkata),                    // India
    ("92", Tz::Asia__Karachi),                    // Pakistan
    ("93", Tz::Asia__Kabul),                      // Afghanistan
    ("94", Tz::Asia__Colombo),                    // Sri Lanka
    ("95", Tz::Asia__Yangon),                     // Myanmar
    ("960", Tz::Indian__Maldives),                // Maldives
    ("961", Tz::Asia__Beirut),                    // Lebanon
    ("962", Tz::Asia__Amman),                     // Jordan
    ("963", Tz::Asia__Damascus),                  // Syria
    ("964", Tz::Asia__Baghdad),                   // Iraq
    ("965", Tz::Asia__Kuwait),                    // Kuwait
    ("966", Tz::Asia__Riyadh),                    // Saudi Arabia
    ("967", Tz::Asia__Aden),                      // Yemen
    ("968", Tz::Asia__Muscat),                    // Oman
    ("970", Tz::Asia__Hebron),                    // Palestine
    ("971", Tz::Asia__Dubai),                     // United Arab Emirates
    ("972", Tz::Asia__Jerusalem),                 // Israel
    ("973", Tz::Asia__Bahrain),                   // Bahrain
    ("974", Tz::Asia__Qatar),                     // Qatar
    ("975", Tz::Asia__Thimphu),                   // Bhutan
    ("976", Tz::Asia__Ulaanbaatar),               // Mongolia
    ("977", Tz::Asia__Kathmandu),                 // Nepal
    ("98", Tz::Asia__Tehran),                     // Iran
    ("992", Tz::Asia__Dushanbe),                  // Tajikistan
    ("993", Tz::Asia__Ashgabat),                  // Turkmenistan
    ("994", Tz::Asia__Baku),                      // Azerbaijan
    ("995", Tz::Asia__Tbilisi),                   // Georgia
    ("996", Tz::Asia__Bishkek),                   // Kyrgyzstan
    ("998", Tz::Asia__Tashkent),                  // Uzbekistan
];

#[cfg(test)]
mod tests {
    use super::*;

    fn zone(n: &str) -> Option<&'static str> {
        zone_for(n).map(|z| z.name())
    }

    #[test]
    fn north_american_area_codes() {
        assert_eq!(zone("+12125550123"), Some("America/New_York"));
        assert_eq!(zone("+13105550123"), Some("America/Los_Angeles"));
        assert_eq!(zone("+13125550123"), Some("America/Chicago"));
        assert_eq!(zone("+13035550123"), Some("America/Denver"));
        assert_eq!(zone("+16025550123"), Some("America/Phoenix"));
        assert_eq!(zone("+18085550123"), Some("Pacific/Honolulu"));
        assert_eq!(zone("+14165550123"), Some("America/Toronto"));
        assert_eq!(zone("+18135550123"), Some("America/New_York"));
        assert_eq!(zone("+19075550123"), Some("America/Anchorage"));
        assert_eq!(zone("+17875550123"), Some("America/Puerto_Rico"));
        assert_eq!(zone("+18765550123"), Some("America/Jamaica"));
        assert_eq!(zone("+13175550123"), Some("America/Indiana/Indianapolis"));
    }

    #[test]
    fn other_countries() {
        assert_eq!(zone("+442079460123"), Some("Europe/London"));
        assert_eq!(zone("+61291234567"), Some("Australia/Sydney"));
        assert_eq!(zone("+913312345678"), Some("Asia/Kolkata"));
        assert_eq!(zone("+77011234567"), Some("Asia/Almaty"));
        assert_eq!(zone("+74951234567"), Some("Europe/Moscow"));
        assert_eq!(zone("+353123456789"), Some("Europe/Dublin"));
        assert_eq!(zone("+5511912345678"), Some("America/Sao_Paulo"));
        assert_eq!(zone("+525512345678"), Some("America/Mexico_City"));
        assert_eq!(zone("+97141234567"), Some("Asia/Dubai"));
    }

    #[test]
    fn non_geographic_nanp_is_none() {
        for npa in [800, 833, 844, 855, 866, 877, 888, 500, 521, 533, 700, 900] {
            assert_eq!(zone_for(&format!("+1{npa}5550123")), None, "{npa}");
        }
    }

    #[test]
    fn malformed_is_none() {
        for bad in [
            "",
            "+",
            "12125550123",       // no plus
            "+1212555012a",      // not all digits
            "+1 212 555 0123",   // spaces
            "+123456",           // 6 digits: too short
            "+1234567890123456", // 16 digits: too long
            "++12125550123",
            "garbage",
        ] {
            assert_eq!(zone_for(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn unknown_country_is_none() {
        assert_eq!(zone("+8001234567"), None); // international freephone
        assert_eq!(zone("+8816123456789"), None); // satellite
        assert_eq!(zone("+2101234567"), None); // unassigned
    }

    #[test]
    fn nanp_is_sorted_unique_and_broad() {
        assert!(
            NANP.windows(2).all(|w| w[0].0 < w[1].0),
            "NANP must be strictly ascending"
        );
        assert!(NANP.len() >= 300, "only {} area codes", NANP.len());
        assert!(NANP.iter().all(|&(c, _)| (200..1000).contains(&c)));
    }

    #[test]
    fn countries_are_sorted_unique_and_well_formed() {
        assert!(
            COUNTRIES.windows(2).all(|w| w[0].0 < w[1].0),
            "COUNTRIES must be strictly ascending"
        );
        for &(code, _) in COUNTRIES {
            assert!(
                (1..=3).contains(&code.len()) && code.bytes().all(|b| b.is_ascii_digit()),
                "{code}"
            );
            assert!(!code.starts_with('1') && !code.starts_with('0'), "{code}");
        }
    }
}
