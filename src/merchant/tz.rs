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

const ET: Tz = Tz::America__New_York;
const CT: Tz = Tz::America__Chicago;
const MT: Tz = Tz::America__Denver;
const PT: Tz = Tz::America__Los_Angeles;

/// Geographic NANP area codes (the 3 digits after +1), sorted by code. Where
/// an area code spans two zones it gets the zone most of its people use
/// (e.g. 850/448 in the Florida panhandle → Central; 812 in Indiana → Eastern).
/// Non-geographic codes (800/833/844/855/866/877/888, 5XX personal
/// communications, 600/622 Canadian, 700, 710, 900) are deliberately absent.
const NANP: &[(u16, Tz)] = &[
    (201, ET),                                 // New Jersey
    (202, ET),                                 // District of Columbia
    (203, ET),                                 // Connecticut
    (204, Tz::America__Winnipeg),              // Manitoba
    (205, CT),                                 // Alabama
    (206, PT),                                 // Washington
    (207, ET),                                 // Maine
    (208, Tz::America__Boise),                 // Idaho
    (209, PT),                                 // California
    (210, CT),                                 // Texas
    (212, ET),                                 // New York
    (213, PT),                                 // California
    (214, CT),                                 // Texas
    (215, ET),                                 // Pennsylvania
    (216, ET),                                 // Ohio
    (217, CT),                                 // Illinois
    (218, CT),                                 // Minnesota
    (219, CT),                                 // Indiana, northwest (Central)
    (220, ET),                                 // Ohio
    (223, ET),                                 // Pennsylvania
    (224, CT),                                 // Illinois
    (225, CT),                                 // Louisiana
    (226, Tz::America__Toronto),               // Ontario
    (227, ET),                                 // Maryland
    (228, CT),                                 // Mississippi
    (229, ET),                                 // Georgia
    (231, Tz::America__Detroit),               // Michigan
    (234, ET),                                 // Ohio
    (235, CT),                                 // Missouri
    (236, Tz::America__Vancouver),             // British Columbia
    (239, ET),                                 // Florida
    (240, ET),                                 // Maryland
    (242, Tz::America__Nassau),                // Bahamas
    (246, Tz::America__Barbados),              // Barbados
    (248, Tz::America__Detroit),               // Michigan
    (249, Tz::America__Toronto),               // Ontario
    (250, Tz::America__Vancouver),             // British Columbia
    (251, CT),                                 // Alabama
    (252, ET),                                 // North Carolina
    (253, PT),                                 // Washington
    (254, CT),                                 // Texas
    (256, CT),                                 // Alabama
    (257, Tz::America__Vancouver),             // British Columbia
    (260, Tz::America__Indiana__Indianapolis), // Indiana
    (262, CT),                                 // Wisconsin
    (263, Tz::America__Toronto),               // Quebec
    (264, Tz::America__Anguilla),              // Anguilla
    (267, ET),                                 // Pennsylvania
    (268, Tz::America__Antigua),               // Antigua and Barbuda
    (269, Tz::America__Detroit),               // Michigan
    (270, CT),                                 // Kentucky, west (Central)
    (272, ET),                                 // Pennsylvania
    (274, CT),                                 // Wisconsin
    (276, ET),                                 // Virginia
    (279, PT),                                 // California
    (281, CT),                                 // Texas
    (283, ET),                                 // Ohio
    (284, Tz::America__Tortola),               // British Virgin Islands
    (289, Tz::America__Toronto),               // Ontario
    (301, ET),                                 // Maryland
    (302, ET),                                 // Delaware
    (303, MT),                                 // Colorado
    (304, ET),                                 // West Virginia
    (305, ET),                                 // Florida
    (306, Tz::America__Regina),                // Saskatchewan
    (307, MT),                                 // Wyoming
    (308, CT),                                 // Nebraska
    (309, CT),                                 // Illinois
    (310, PT),                                 // California
    (312, CT),                                 // Illinois
    (313, Tz::America__Detroit),               // Michigan
    (314, CT),                                 // Missouri
    (315, ET),                                 // New York
    (316, CT),                                 // Kansas
    (317, Tz::America__Indiana__Indianapolis), // Indiana
    (318, CT),                                 // Louisiana
    (319, CT),                                 // Iowa
    (320, CT),                                 // Minnesota
    (321, ET),                                 // Florida
    (323, PT),                                 // California
    (324, ET),                                 // Florida
    (325, CT),                                 // Texas
    (326, ET),                                 // Ohio
    (327, CT),                                 // Arkansas
    (329, ET),                                 // New York
    (330, ET),                                 // Ohio
    (331, CT),                                 // Illinois
    (332, ET),                                 // New York
    (334, CT),                                 // Alabama
    (336, ET),                                 // North Carolina
    (337, CT),                                 // Louisiana
    (339, ET),                                 // Massachusetts
    (340, Tz::America__St_Thomas),             // US Virgin Islands
    (341, PT),                                 // California
    (343, Tz::America__Toronto),               // Ontario
    (345, Tz::America__Cayman),                // Cayman Islands
    (346, CT),                                 // Texas
    (347, ET),                                 // New York
    (350, PT),                                 // California
    (351, ET),                                 // Massachusetts
    (352, ET),                                 // Florida
    (353, CT),                                 // Wisconsin
    (354, Tz::America__Toronto),               // Quebec
    (357, PT),                                 // California
    (360, PT),                                 // Washington
    (361, CT),                                 // Texas
    (363, ET),                                 // New York
    (364, CT),                                 // Kentucky, west (Central)
    (365, Tz::America__Toronto),               // Ontario
    (367, Tz::America__Toronto),               // Quebec
    (368, Tz::America__Edmonton),              // Alberta
    (369, PT),                                 // California
    (380, ET),                                 // Ohio
    (382, Tz::America__Toronto),               // Ontario
    (385, MT),                                 // Utah
    (386, ET),                                 // Florida
    (401, ET),                                 // Rhode Island
    (402, CT),                                 // Nebraska
    (403, Tz::America__Edmonton),              // Alberta
    (404, ET),                                 // Georgia
    (405, CT),                                 // Oklahoma
    (406, MT),                                 // Montana
    (407, ET),                                 // Florida
    (408, PT),                                 // California
    (409, CT),                                 // Texas
    (410, ET),                                 // Maryland
    (412, ET),                                 // Pennsylvania
    (413, ET),                                 // Massachusetts
    (414, CT),                                 // Wisconsin
    (415, PT),                                 // California
    (416, Tz::America__Toronto),               // Ontario
    (417, CT),                                 // Missouri
    (418, Tz::America__Toronto),               // Quebec
    (419, ET),                                 // Ohio
    (423, ET),                                 // Tennessee, east
    (424, PT),                                 // California
    (425, PT),                                 // Washington
    (428, Tz::America__Moncton),               // New Brunswick
    (430, CT),                                 // Texas
    (431, Tz::America__Winnipeg),              // Manitoba
    (432, CT),                                 // Texas
    (434, ET),                                 // Virginia
    (435, MT),                                 // Utah
    (436, ET),                                 // Ohio
    (437, Tz::America__Toronto),               // Ontario
    (438, Tz::America__Toronto),               // Quebec
    (440, ET),                                 // Ohio
    (441, Tz::Atlantic__Bermuda),              // Bermuda
    (442, PT),                                 // California
    (443, ET),                                 // Maryland
    (445, ET),                                 // Pennsylvania
    (447, CT),                                 // Illinois
    (448, CT),                                 // Florida panhandle (mostly Central)
    (450, Tz::America__Toronto),               // Quebec
    (457, CT),                                 // Louisiana
    (458, PT),                                 // Oregon
    (463, Tz::America__Indiana__Indianapolis), // Indiana
    (464, CT),                                 // Illinois
    (468, Tz::America__Toronto),               // Quebec
    (469, CT),                                 // Texas
    (470, ET),                                 // Georgia
    (472, ET),                                 // North Carolina
    (473, Tz::America__Grenada),               // Grenada
    (474, Tz::America__Regina),                // Saskatchewan
    (475, ET),                                 // Connecticut
    (478, ET),                                 // Georgia
    (479, CT),                                 // Arkansas
    (480, Tz::America__Phoenix),               // Arizona
    (483, CT),                                 // Alabama
    (484, ET),                                 // Pennsylvania
    (501, CT),                                 // Arkansas
    (502, Tz::America__Kentucky__Louisville),  // Kentucky
    (503, PT),                                 // Oregon
    (504, CT),                                 // Louisiana
    (505, MT),                                 // New Mexico
    (506, Tz::America__Moncton),               // New Brunswick
    (507, CT),                                 // Minnesota
    (508, ET),                                 // Massachusetts
    (509, PT),                                 // Washington
    (510, PT),                                 // California
    (512, CT),                                 // Texas
    (513, ET),                                 // Ohio
    (514, Tz::America__Toronto),               // Quebec
    (515, CT),                                 // Iowa
    (516, ET),                                 // New York
    (517, Tz::America__Detroit),               // Michigan
    (518, ET),                                 // New York
    (519, Tz::America__Toronto),               // Ontario
    (520, Tz::America__Phoenix),               // Arizona
    (530, PT),                                 // California
    (531, CT),                                 // Nebraska
    (534, CT),                                 // Wisconsin
    (539, CT),                                 // Oklahoma
    (540, ET),                                 // Virginia
    (541, PT),                                 // Oregon
    (548, Tz::America__Toronto),               // Ontario
    (551, ET),                                 // New Jersey
    (557, CT),                                 // Missouri
    (559, PT),                                 // California
    (561, ET),                                 // Florida
    (562, PT),                                 // California
    (563, CT),                                 // Iowa
    (564, PT),                                 // Washington
    (567, ET),                                 // Ohio
    (570, ET),                                 // Pennsylvania
    (571, ET),                                 // Virginia
    (572, CT),                                 // Oklahoma
    (573, CT),                                 // Missouri
    (574, Tz::America__Indiana__Indianapolis), // Indiana
    (575, MT),                                 // New Mexico
    (579, Tz::America__Toronto),               // Quebec
    (580, CT),                                 // Oklahoma
    (581, Tz::America__Toronto),               // Quebec
    (582, ET),                                 // Pennsylvania
    (584, Tz::America__Winnipeg),              // Manitoba
    (585, ET),                                 // New York
    (586, Tz::America__Detroit),               // Michigan
    (587, Tz::America__Edmonton),              // Alberta
    (601, CT),                                 // Mississippi
    (602, Tz::America__Phoenix),               // Arizona
    (603, ET),                                 // New Hampshire
    (604, Tz::America__Vancouver),             // British Columbia
    (605, CT),                                 // South Dakota
    (606, ET),                                 // Kentucky
    (607, ET),                                 // New York
    (608, CT),                                 // Wisconsin
    (609, ET),                                 // New Jersey
    (610, ET),                                 // Pennsylvania
    (612, CT),                                 // Minnesota
    (613, Tz::America__Toronto),               // Ontario
    (614, ET),                                 // Ohio
    (615, CT),                                 // Tennessee
    (616, Tz::America__Detroit),               // Michigan
    (617, ET),                                 // Massachusetts
    (618, CT),                                 // Illinois
    (619, PT),                                 // California
    (620, CT),                                 // Kansas
    (621, CT),                                 // Texas
    (623, Tz::America__Phoenix),               // Arizona
    (624, ET),                                 // New York
    (626, PT),                                 // California
    (628, PT),                                 // California
    (629, CT),                                 // Tennessee
    (630, CT),                                 // Illinois
    (631, ET),                                 // New York
    (636, CT),                                 // Missouri
    (639, Tz::America__Regina),                // Saskatchewan
    (640, ET),                                 // New Jersey
    (641, CT),                                 // Iowa
    (645, ET),                                 // Florida
    (646, ET),                                 // New York
    (647, Tz::America__Toronto),               // Ontario
    (649, Tz::America__Grand_Turk),            // Turks and Caicos
    (650, PT),                                 // California
    (651, CT),                                 // Minnesota
    (656, ET),                                 // Florida
    (657, PT),                                 // California
    (658, Tz::America__Jamaica),               // Jamaica
    (659, CT),                                 // Alabama
    (660, CT),                                 // Missouri
    (661, PT),                                 // California
    (662, CT),                                 // Mississippi
    (664, Tz::America__Montserrat),            // Montserrat
    (667, ET),                                 // Maryland
    (669, PT),                                 // California
    (670, Tz::Pacific__Saipan),                // Northern Mariana Islands
    (671, Tz::Pacific__Guam),                  // Guam
    (672, Tz::America__Vancouver),             // British Columbia
    (678, ET),                                 // Georgia
    (679, Tz::America__Detroit),               // Michigan
    (680, ET),                                 // New York
    (681, ET),                                 // West Virginia
    (682, CT),                                 // Texas
    (683, Tz::America__Toronto),               // Ontario
    (684, Tz::Pacific__Pago_Pago),             // American Samoa
    (686, ET),                                 // Virginia
    (689, ET),                                 // Florida
    (701, CT),                                 // North Dakota
    (702, PT),                                 // Nevada
    (703, ET),                                 // Virginia
    (704, ET),                                 // North Carolina
    (705, Tz::America__Toronto),               // Ontario
    (706, ET),                                 // Georgia
    (707, PT),                                 // California
    (708, CT),                                 // Illinois
    (709, Tz::America__St_Johns),              // Newfoundland and Labrador
    (712, CT),                                 // Iowa
    (713, CT),                                 // Texas
    (714, PT),                                 // California
    (715, CT),                                 // Wisconsin
    (716, ET),                                 // New York
    (717, ET),                                 // Pennsylvania
    (718, ET),                                 // New York
    (719, MT),                                 // Colorado
    (720, MT),                                 // Colorado
    (721, Tz::America__Lower_Princes),         // Sint Maarten
    (724, ET),                                 // Pennsylvania
    (725, PT),                                 // Nevada
    (726, CT),                                 // Texas
    (727, ET),                                 // Florida
    (728, ET),                                 // Florida
    (729, ET),                                 // Tennessee, east
    (730, CT),                                 // Illinois
    (731, CT),                                 // Tennessee
    (732, ET),                                 // New Jersey
    (734, Tz::America__Detroit),               // Michigan
    (737, CT),                                 // Texas
    (738, PT),                                 // California
    (740, ET),                                 // Ohio
    (742, Tz::America__Toronto),               // Ontario
    (743, ET),                                 // North Carolina
    (747, PT),                                 // California
    (748, MT),                                 // Colorado
    (753, Tz::America__Toronto),               // Ontario
    (754, ET),                                 // Florida
    (757, ET),                                 // Virginia
    (758, Tz::America__St_Lucia),              // Saint Lucia
    (760, PT),                                 // California
    (762, ET),                                 // Georgia
    (763, CT),                                 // Minnesota
    (765, Tz::America__Indiana__Indianapolis), // Indiana
    (767, Tz::America__Dominica),              // Dominica
    (769, CT),                                 // Mississippi
    (770, ET),                                 // Georgia
    (771, ET),                                 // District of Columbia
    (772, ET),                                 // Florida
    (773, CT),                                 // Illinois
    (774, ET),                                 // Massachusetts
    (775, PT),                                 // Nevada
    (778, Tz::America__Vancouver),             // British Columbia
    (779, CT),                                 // Illinois
    (780, Tz::America__Edmonton),              // Alberta
    (781, ET),                                 // Massachusetts
    (782, Tz::America__Halifax),               // Nova Scotia, Prince Edward Island
    (784, Tz::America__St_Vincent),            // Saint Vincent and the Grenadines
    (785, CT),                                 // Kansas
    (786, ET),                                 // Florida
    (787, Tz::America__Puerto_Rico),           // Puerto Rico
    (801, MT),                                 // Utah
    (802, ET),                                 // Vermont
    (803, ET),                                 // South Carolina
    (804, ET),                                 // Virginia
    (805, PT),                                 // California
    (806, CT),                                 // Texas
    (807, Tz::America__Toronto),               // Ontario
    (808, Tz::Pacific__Honolulu),              // Hawaii
    (809, Tz::America__Santo_Domingo),         // Dominican Republic
    (810, Tz::America__Detroit),               // Michigan
    (812, Tz::America__Indiana__Indianapolis), // Indiana
    (813, ET),                                 // Florida
    (814, ET),                                 // Pennsylvania
    (815, CT),                                 // Illinois
    (816, CT),                                 // Missouri
    (817, CT),                                 // Texas
    (818, PT),                                 // California
    (819, Tz::America__Toronto),               // Quebec
    (820, PT),                                 // California
    (821, ET),                                 // South Carolina
    (825, Tz::America__Edmonton),              // Alberta
    (826, ET),                                 // Virginia
    (828, ET),                                 // North Carolina
    (829, Tz::America__Santo_Domingo),         // Dominican Republic
    (830, CT),                                 // Texas
    (831, PT),                                 // California
    (832, CT),                                 // Texas
    (835, ET),                                 // Pennsylvania
    (838, ET),                                 // New York
    (839, ET),                                 // South Carolina
    (840, PT),                                 // California
    (843, ET),                                 // South Carolina
    (845, ET),                                 // New York
    (847, CT),                                 // Illinois
    (848, ET),                                 // New Jersey
    (849, Tz::America__Santo_Domingo),         // Dominican Republic
    (850, CT),                                 // Florida panhandle (mostly Central)
    (854, ET),                                 // South Carolina
    (856, ET),                                 // New Jersey
    (857, ET),                                 // Massachusetts
    (858, PT),                                 // California
    (859, ET),                                 // Kentucky
    (860, ET),                                 // Connecticut
    (861, CT),                                 // Illinois
    (862, ET),                                 // New Jersey
    (863, ET),                                 // Florida
    (864, ET),                                 // South Carolina
    (865, ET),                                 // Tennessee, east
    (867, Tz::America__Edmonton),              // Yukon, Northwest Territories, Nunavut
    (868, Tz::America__Port_of_Spain),         // Trinidad and Tobago
    (869, Tz::America__St_Kitts),              // Saint Kitts and Nevis
    (870, CT),                                 // Arkansas
    (872, CT),                                 // Illinois
    (873, Tz::America__Toronto),               // Quebec
    (876, Tz::America__Jamaica),               // Jamaica
    (878, ET),                                 // Pennsylvania
    (879, Tz::America__St_Johns),              // Newfoundland and Labrador
    (901, CT),                                 // Tennessee
    (902, Tz::America__Halifax),               // Nova Scotia, Prince Edward Island
    (903, CT),                                 // Texas
    (904, ET),                                 // Florida
    (905, Tz::America__Toronto),               // Ontario
    (906, Tz::America__Detroit),               // Michigan
    (907, Tz::America__Anchorage),             // Alaska
    (908, ET),                                 // New Jersey
    (909, PT),                                 // California
    (910, ET),                                 // North Carolina
    (912, ET),                                 // Georgia
    (913, CT),                                 // Kansas
    (914, ET),                                 // New York
    (915, MT),                                 // Texas, El Paso
    (916, PT),                                 // California
    (917, ET),                                 // New York
    (918, CT),                                 // Oklahoma
    (919, ET),                                 // North Carolina
    (920, CT),                                 // Wisconsin
    (924, CT),                                 // Minnesota
    (925, PT),                                 // California
    (928, Tz::America__Phoenix),               // Arizona
    (929, ET),                                 // New York
    (930, Tz::America__Indiana__Indianapolis), // Indiana
    (931, CT),                                 // Tennessee
    (934, ET),                                 // New York
    (936, CT),                                 // Texas
    (937, ET),                                 // Ohio
    (938, CT),                                 // Alabama
    (939, Tz::America__Puerto_Rico),           // Puerto Rico
    (940, CT),                                 // Texas
    (941, ET),                                 // Florida
    (942, Tz::America__Toronto),               // Ontario
    (943, ET),                                 // Georgia
    (945, CT),                                 // Texas
    (947, Tz::America__Detroit),               // Michigan
    (948, ET),                                 // Virginia
    (949, PT),                                 // California
    (951, PT),                                 // California
    (952, CT),                                 // Minnesota
    (954, ET),                                 // Florida
    (956, CT),                                 // Texas
    (959, ET),                                 // Connecticut
    (970, MT),                                 // Colorado
    (971, PT),                                 // Oregon
    (972, CT),                                 // Texas
    (973, ET),                                 // New Jersey
    (975, CT),                                 // Missouri
    (978, ET),                                 // Massachusetts
    (979, CT),                                 // Texas
    (980, ET),                                 // North Carolina
    (983, MT),                                 // Colorado
    (984, ET),                                 // North Carolina
    (985, CT),                                 // Louisiana
    (986, Tz::America__Boise),                 // Idaho
    (989, Tz::America__Detroit),               // Michigan
];

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
