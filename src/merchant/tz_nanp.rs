//! The NANP (+1) area codes and the zone most of each one's people use, for
//! `tz`: geographic codes of the US, its territories, Canada and the Caribbean
//! members; toll-free and non-geographic codes are absent.

use chrono_tz::Tz;

const ET: Tz = Tz::America__New_York;
const CT: Tz = Tz::America__Chicago;
const MT: Tz = Tz::America__Denver;
const PT: Tz = Tz::America__Los_Angeles;

/// Geographic NANP area codes (the 3 digits after +1), sorted by code. Where
/// an area code spans two zones it gets the zone most of its people use
/// (e.g. 850/448 in the Florida panhandle → Central; 812 in Indiana → Eastern).
/// Non-geographic codes (800/833/844/855/866/877/888, 5XX personal
/// communications, 600/622 Canadian, 700, 710, 900) are deliberately absent.
pub(super) const NANP: &[(u16, Tz)] = &[
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
