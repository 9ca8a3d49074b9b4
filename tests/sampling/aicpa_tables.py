"""Published AICPA table cells that the sampling statistics must reproduce.

Source of the numbers (read this before trusting them)
------------------------------------------------------
AICPA Audit Guide *Audit Sampling* (2017 edition), appendices A and C. We did not
have the guide itself. The sample sizes of tables A-1, A-2 and C-1 and the upper
limits of tables A-3 and A-4 were transcribed by hand, value by value, from the
validation tests of the open-source R package jfa by Koen Derks
(github.com/koenderks/jfa, ``tests/testthat/test-validation-appendix-a.R`` and
``test-validation-appendix-c.R``), whose author transcribed them from the 2017
guide's appendices (Wiley Online Library, doi 10.1002/9781119448617.app1 and .app3,
retrieved 2021-04-28). Only the numbers were taken; no code.

Where that transcription knowingly departs from the printed table, we record the
printed value and say so (see ``A2_PRINTED_NOT_JFA``). Cells that the transcription
leaves out although the expected rate is below the tolerable rate are the tables'
"*" cells (too large to be cost-effective); that reading is ours.

The parenthetical numbers of A-1/A-2 (the allowed deviations) are not in the jfa
transcription. ``A1_DEVIATIONS``/``A2_DEVIATIONS`` list cells whose parenthetical
number we are confident of from the printed tables (the brief's sanity cells plus
cells that are identical in the widely reproduced pre-2008 edition of the tables);
treat them as a secondary check of the rule ``ceil(n × expected rate)``.

The Poisson confidence (reliability) factors are from our own knowledge of the
widely reproduced MUS evaluation table (0–10 overstatements, two decimals); we
could not check them against the guide, so only cells we are sure of are listed.
"""

from __future__ import annotations

# -----------------------------------------------------------------

EXPECTED_ROWS: tuple[str, ...] = (
    "0", "0.0025", "0.005", "0.0075", "0.01", "0.0125", "0.015", "0.0175", "0.02",
    "0.0225", "0.025", "0.0275", "0.03", "0.0325", "0.035", "0.0375", "0.04", "0.05",
    "0.06", "0.07", "0.08", "0.09", "0.1", "0.125", "0.15", "0.175",
)  # fmt: skip
TOLERABLE_COLUMNS: tuple[str, ...] = (
    "0.02", "0.03", "0.04", "0.05", "0.06", "0.07", "0.08", "0.09", "0.1", "0.15", "0.2",
)  # fmt: skip

# Table A-1, 5 % risk of overreliance (95 % confidence). One list per tolerable-rate
# column, top to bottom from expected 0 %; printed cells only.
_A1_COLUMNS: dict[str, list[int]] = {
    "0.02": [149, 236, 313, 386, 590, 1030],
    "0.03": [99, 157, 157, 208, 257, 303, 392, 562, 846, 1466],
    "0.04": [74, 117, 117, 117, 156, 156, 192, 227, 294, 390, 513, 722, 1098, 1936],
    "0.05": [59, 93, 93, 93, 93, 124, 124, 153, 181, 208, 234, 286, 361, 458, 624, 877,
             1348],
    "0.06": [49, 78, 78, 78, 78, 78, 103, 103, 127, 127, 150, 173, 195, 238, 280, 341,
             421, 1580],
    "0.07": [42, 66, 66, 66, 66, 66, 66, 88, 88, 88, 109, 109, 129, 148, 167, 185, 221,
             478, 1832],
    "0.08": [36, 58, 58, 58, 58, 58, 58, 77, 77, 77, 77, 95, 95, 112, 112, 129, 146, 240,
             532],
    "0.09": [32, 51, 51, 51, 51, 51, 51, 51, 68, 68, 68, 68, 84, 84, 84, 100, 100, 158,
             266, 585],
    "0.1": [29, 46, 46, 46, 46, 46, 46, 46, 46, 61, 61, 61, 61, 61, 76, 76, 89, 116, 179,
            298, 649],
    "0.15": [19, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 40, 40, 40, 40, 50,
             68, 85, 110, 150, 576],
    "0.2": [14, 22, 22, 22, 22, 22, 22, 22, 22, 22, 22, 22, 22, 22, 22, 22, 22, 30, 30,
            37, 37, 44, 50, 88, 193, 720],
}  # fmt: skip

# Table A-2, 10 % risk of overreliance (90 % confidence), same layout.
# Three cells differ from the jfa matrix, which holds jfa's own results there:
# see A2_PRINTED_NOT_JFA below.
_A2_COLUMNS: dict[str, list[int]] = {
    "0.02": [114, 194, 194, 265, 398, 708, 1463],
    "0.03": [76, 129, 129, 129, 176, 221, 265, 390, 590, 974],
    "0.04": [57, 96, 96, 96, 96, 132, 132, 166, 198, 262, 353, 471, 730, 1258],
    "0.05": [45, 77, 77, 77, 77, 77, 105, 105, 132, 132, 158, 209, 258, 306, 400, 583,
             873],
    "0.06": [38, 64, 64, 64, 64, 64, 64, 88, 88, 88, 110, 132, 132, 153, 194, 235, 274,
             1019],
    "0.07": [32, 55, 55, 55, 55, 55, 55, 55, 75, 75, 75, 94, 94, 112, 112, 131, 149, 318,
             1150],
    "0.08": [28, 48, 48, 48, 48, 48, 48, 48, 48, 65, 65, 65, 65, 82, 82, 98, 98, 160, 349,
             1300],
    "0.09": [25, 42, 42, 42, 42, 42, 42, 42, 42, 42, 58, 58, 58, 58, 73, 73, 73, 115, 182,
             385, 1437],
    "0.1": [22, 38, 38, 38, 38, 38, 38, 38, 38, 38, 38, 52, 52, 52, 52, 52, 65, 78, 116,
            199, 424, 1577],
    "0.15": [15, 25, 25, 25, 25, 25, 25, 25, 25, 25, 25, 25, 25, 25, 25, 25, 25, 34, 43,
             52, 60, 77, 100, 368],
    "0.2": [11, 18, 18, 18, 18, 18, 18, 18, 18, 18, 18, 18, 18, 18, 18, 18, 18, 18, 25,
            25, 25, 32, 38, 63, 126, 457],
}  # fmt: skip

# Printed A-2 values that the jfa matrix replaces by jfa's own result, from the
# comments next to that matrix:
# * expected 3.5 %, tolerable 5 %: jfa computes 423 because in floating point
#   400 × 0.035 = 14.000000000000002, whose ceiling is 15; the printed cell is the
#   n for which n × 3.5 % = 14, i.e. 400. (The jfa comment literally says "200",
#   which contradicts its own explanation; 200 × 3.5 % = 7 cannot reach 90 %.)
# * expected 7 %, tolerable 8 %: jfa computes 1313 because 1300 × 0.07 =
#   91.00000000000001 in floating point; the guide prints 1300.
# * expected 3.25 % and 3.5 %, tolerable 7 %: the guide prints 112, but
#   P(X <= 4 | n = 112, p = 0.07) = 0.1007 > 0.10, so 112 does not achieve 90 %
#   confidence; the strict rule gives 113 (see A2_TABLE_ERRATA).
A2_PRINTED_NOT_JFA: dict[tuple[str, str], int] = {
    ("0.035", "0.05"): 400,
    ("0.07", "0.08"): 1300,
    ("0.0325", "0.07"): 112,
    ("0.035", "0.07"): 112,
}

# Cells where the printed table itself is statistically wrong: (printed, correct).
A2_TABLE_ERRATA: dict[tuple[str, str], tuple[int, int]] = {
    ("0.0325", "0.07"): (112, 113),
    ("0.035", "0.07"): (112, 113),
}


def _cells(columns: dict[str, list[int]]) -> dict[tuple[str, str], int]:
    """(expected, tolerable) -> printed sample size."""
    return {
        (EXPECTED_ROWS[row], tolerable): size
        for tolerable, sizes in columns.items()
        for row, size in enumerate(sizes)
    }


def _starred(columns: dict[str, list[int]]) -> list[tuple[str, str]]:
    """Cells with expected < tolerable that are not printed: the "*" cells."""
    return [
        (expected, tolerable)
        for tolerable, sizes in columns.items()
        for expected in EXPECTED_ROWS[len(sizes) :]
        if float(expected) < float(tolerable)
    ]


A1_SIZES = _cells(_A1_COLUMNS)
A2_SIZES = _cells(_A2_COLUMNS)
A1_STARRED = _starred(_A1_COLUMNS)
A2_STARRED = _starred(_A2_COLUMNS)

# Parenthetical allowed deviations, (expected, tolerable) -> (n, k).
A1_DEVIATIONS: dict[tuple[str, str], tuple[int, int]] = {
    ("0", "0.05"): (59, 0),
    ("0.01", "0.05"): (93, 1),
    ("0", "0.1"): (29, 0),
    ("0.0025", "0.02"): (236, 1),
    ("0.005", "0.02"): (313, 2),
    ("0.01", "0.04"): (156, 2),
    ("0.0125", "0.05"): (124, 2),
    ("0.015", "0.04"): (192, 3),
    ("0.0175", "0.05"): (153, 3),
    ("0.02", "0.05"): (181, 4),
    ("0.0225", "0.05"): (208, 5),
    ("0.025", "0.06"): (150, 4),
    ("0.0275", "0.06"): (173, 5),
    ("0.03", "0.06"): (195, 6),
    ("0.0325", "0.07"): (148, 5),
    ("0.035", "0.07"): (167, 6),
    ("0.0375", "0.07"): (185, 7),
    ("0.04", "0.08"): (146, 6),
    ("0.05", "0.09"): (158, 8),
    ("0.06", "0.1"): (179, 11),
    ("0.035", "0.15"): (40, 2),
    ("0.07", "0.15"): (68, 5),
    ("0.05", "0.2"): (30, 2),
    ("0.07", "0.2"): (37, 3),
}
A2_DEVIATIONS: dict[tuple[str, str], tuple[int, int]] = {
    ("0", "0.05"): (45, 0),
    ("0.01", "0.05"): (77, 1),
    ("0.0125", "0.04"): (132, 2),
    ("0.02", "0.05"): (132, 3),
    ("0.03", "0.07"): (94, 3),
    ("0.04", "0.08"): (98, 4),
}

# -----------------------------------------------------------------

UPPER_LIMIT_SIZES: tuple[int, ...] = (
    20, 25, 30, 35, 40, 45, 50, 55, 60, 65, 70, 75, 80, 90, 100, 125, 150, 200, 300,
    400, 500,
)  # fmt: skip
UPPER_LIMIT_DEVIATIONS: tuple[int, ...] = tuple(range(11))

# Table A-3: upper limits (%) at 5 % risk of overreliance; rows are sample sizes,
# columns 0..10 deviations found.
A3_PERCENT: tuple[tuple[str, ...], ...] = (
    ("14.0", "21.7", "28.3", "34.4", "40.2", "45.6", "50.8", "55.9", "60.7", "65.4", "69.9"),
    ("11.3", "17.7", "23.2", "28.2", "33.0", "37.6", "42.0", "46.3", "50.4", "54.4", "58.4"),
    ("9.6", "14.9", "19.6", "23.9", "28.0", "31.9", "35.8", "39.4", "43.0", "46.6", "50.0"),
    ("8.3", "12.9", "17.0", "20.7", "24.3", "27.8", "31.1", "34.4", "37.5", "40.6", "43.7"),
    ("7.3", "11.4", "15.0", "18.3", "21.5", "24.6", "27.5", "30.4", "33.3", "36.0", "38.8"),
    ("6.5", "10.2", "13.4", "16.4", "19.2", "22.0", "24.7", "27.3", "29.8", "32.4", "34.8"),
    ("5.9", "9.2", "12.1", "14.8", "17.4", "19.9", "22.4", "24.7", "27.1", "29.4", "31.6"),
    ("5.4", "8.4", "11.1", "13.5", "15.9", "18.2", "20.5", "22.6", "24.8", "26.9", "28.9"),
    ("4.9", "7.7", "10.2", "12.5", "14.7", "16.8", "18.8", "20.8", "22.8", "24.8", "26.7"),
    ("4.6", "7.1", "9.4", "11.5", "13.6", "15.5", "17.5", "19.3", "21.2", "23.0", "24.7"),
    ("4.2", "6.6", "8.8", "10.8", "12.7", "14.5", "16.3", "18.0", "19.7", "21.4", "23.1"),
    ("4.0", "6.2", "8.2", "10.1", "11.8", "13.6", "15.2", "16.9", "18.5", "20.1", "21.6"),
    ("3.7", "5.8", "7.7", "9.5", "11.1", "12.7", "14.3", "15.9", "17.4", "18.9", "20.3"),
    ("3.3", "5.2", "6.9", "8.4", "9.9", "11.4", "12.8", "14.2", "15.5", "16.9", "18.2"),
    ("3.0", "4.7", "6.2", "7.6", "9.0", "10.3", "11.5", "12.8", "14.0", "15.2", "16.4"),
    ("2.4", "3.8", "5.0", "6.1", "7.2", "8.3", "9.3", "10.3", "11.3", "12.3", "13.2"),
    ("2.0", "3.2", "4.2", "5.1", "6.0", "6.9", "7.8", "8.6", "9.5", "10.3", "11.1"),
    ("1.5", "2.4", "3.2", "3.9", "4.6", "5.2", "5.9", "6.5", "7.2", "7.8", "8.4"),
    ("1.0", "1.6", "2.1", "2.6", "3.1", "3.5", "4.0", "4.4", "4.8", "5.2", "5.6"),
    ("0.8", "1.2", "1.6", "2.0", "2.3", "2.7", "3.0", "3.3", "3.6", "3.9", "4.3"),
    ("0.6", "1.0", "1.3", "1.6", "1.9", "2.1", "2.4", "2.7", "2.9", "3.2", "3.4"),
)

# Table A-4: upper limits (%) at 10 % risk of overreliance, same layout.
A4_PERCENT: tuple[tuple[str, ...], ...] = (
    ("10.9", "18.1", "24.5", "30.5", "36.1", "41.5", "46.8", "51.9", "56.8", "61.6", "66.2"),
    ("8.8", "14.7", "20.0", "24.9", "29.5", "34.0", "38.4", "42.6", "46.8", "50.8", "54.8"),
    ("7.4", "12.4", "16.8", "21.0", "24.9", "28.8", "32.5", "36.2", "39.7", "43.2", "46.7"),
    ("6.4", "10.7", "14.5", "18.2", "21.6", "24.9", "28.2", "31.4", "34.5", "37.6", "40.6"),
    ("5.6", "9.4", "12.8", "16.0", "19.0", "22.0", "24.9", "27.7", "30.5", "33.2", "35.9"),
    ("5.0", "8.4", "11.4", "14.3", "17.0", "19.7", "22.3", "24.8", "27.3", "29.8", "32.2"),
    ("4.6", "7.6", "10.3", "12.9", "15.4", "17.8", "20.2", "22.5", "24.7", "27.0", "29.2"),
    ("4.2", "6.9", "9.4", "11.8", "14.1", "16.3", "18.4", "20.5", "22.6", "24.6", "26.7"),
    ("3.8", "6.4", "8.7", "10.8", "12.9", "15.0", "16.9", "18.9", "20.8", "22.7", "24.6"),
    ("3.5", "5.9", "8.0", "10.0", "12.0", "13.9", "15.7", "17.5", "19.3", "21.0", "22.8"),
    ("3.3", "5.5", "7.5", "9.3", "11.1", "12.9", "14.6", "16.3", "18.0", "19.6", "21.2"),
    ("3.1", "5.1", "7.0", "8.7", "10.4", "12.1", "13.7", "15.2", "16.8", "18.3", "19.8"),
    ("2.9", "4.8", "6.6", "8.2", "9.8", "11.3", "12.8", "14.3", "15.8", "17.2", "18.7"),
    ("2.6", "4.3", "5.9", "7.3", "8.7", "10.1", "11.5", "12.8", "14.1", "15.4", "16.7"),
    ("2.3", "3.9", "5.3", "6.6", "7.9", "9.1", "10.3", "11.5", "12.7", "13.9", "15.0"),
    ("1.9", "3.1", "4.3", "5.3", "6.3", "7.3", "8.3", "9.3", "10.2", "11.2", "12.1"),
    ("1.6", "2.6", "3.6", "4.4", "5.3", "6.1", "7.0", "7.8", "8.6", "9.4", "10.1"),
    ("1.2", "2.0", "2.7", "3.4", "4.0", "4.6", "5.3", "5.9", "6.5", "7.1", "7.6"),
    ("0.8", "1.3", "1.8", "2.3", "2.7", "3.1", "3.5", "3.9", "4.3", "4.7", "5.1"),
    ("0.6", "1.0", "1.4", "1.7", "2.0", "2.4", "2.7", "3.0", "3.3", "3.6", "3.9"),
    ("0.5", "0.8", "1.1", "1.4", "1.6", "1.9", "2.1", "2.4", "2.6", "2.9", "3.1"),
)


def upper_limit_cells(table: tuple[tuple[str, ...], ...]) -> list[tuple[int, int, str]]:
    """(sample size, deviations, printed percent) for every cell."""
    return [
        (size, deviations, table[row][deviations])
        for row, size in enumerate(UPPER_LIMIT_SIZES)
        for deviations in UPPER_LIMIT_DEVIATIONS
    ]


# ------------------------------------------------------------------------ C-1

# Table C-1: monetary-unit sample sizes. Key: (risk of incorrect acceptance,
# ratio of expected to tolerable misstatement); value: sizes for the tolerable
# misstatement columns below (as a share of the population book value), then the
# printed "expected sum of taintings" (the C-1 last column).
C1_TOLERABLE_COLUMNS: tuple[str, ...] = (
    "0.5", "0.3", "0.1", "0.08", "0.06", "0.05", "0.04", "0.03", "0.02", "0.01", "0.005",
)  # fmt: skip
C1_ROWS: dict[tuple[str, str], tuple[tuple[int, ...], str]] = {
    ("0.05", "0.0"): ((6, 10, 30, 38, 50, 60, 75, 100, 150, 300, 600), "0"),
    ("0.05", "0.1"): ((8, 13, 37, 46, 62, 74, 92, 123, 184, 368, 736), "0.37"),
    ("0.05", "0.2"): ((10, 16, 47, 58, 78, 93, 116, 155, 232, 463, 925), "0.93"),
    ("0.05", "0.3"): ((12, 20, 60, 75, 100, 120, 150, 200, 300, 600, 1199), "1.80"),
    ("0.05", "0.4"): ((17, 27, 81, 102, 135, 162, 203, 270, 405, 809, 1618), "3.24"),
    ("0.05", "0.5"): ((24, 39, 116, 145, 193, 231, 289, 385, 577, 1154, 2308), "5.77"),
    ("0.10", "0.0"): ((5, 8, 24, 29, 39, 47, 58, 77, 116, 231, 461), "0"),
    ("0.10", "0.2"): ((7, 12, 35, 43, 57, 69, 86, 114, 171, 341, 682), "0.69"),
    ("0.10", "0.3"): ((9, 15, 44, 55, 73, 87, 109, 145, 217, 433, 866), "1.30"),
    ("0.10", "0.4"): ((12, 20, 58, 72, 96, 115, 143, 191, 286, 572, 1144), "2.29"),
    ("0.10", "0.5"): ((16, 27, 80, 100, 134, 160, 200, 267, 400, 799, 1597), "4.00"),
    ("0.15", "0.0"): ((4, 7, 19, 24, 32, 38, 48, 64, 95, 190, 380), "0"),
    ("0.15", "0.2"): ((6, 10, 28, 35, 46, 55, 69, 91, 137, 273, 545), "0.55"),
    ("0.15", "0.3"): ((7, 12, 35, 43, 57, 69, 86, 114, 171, 341, 681), "1.03"),
    ("0.15", "0.4"): ((9, 15, 45, 56, 74, 89, 111, 148, 221, 442, 883), "1.77"),
    ("0.15", "0.5"): ((13, 21, 61, 76, 101, 121, 151, 202, 302, 604, 1208), "3.02"),
    ("0.20", "0.0"): ((4, 6, 17, 21, 27, 33, 41, 54, 81, 161, 322), "0"),
    ("0.20", "0.2"): ((5, 8, 23, 29, 38, 46, 57, 76, 113, 226, 451), "0.46"),
    ("0.20", "0.3"): ((6, 10, 28, 35, 47, 56, 70, 93, 139, 277, 554), "0.84"),
    ("0.20", "0.4"): ((8, 12, 36, 45, 59, 71, 89, 118, 177, 354, 707), "1.42"),
    # Taintings: the jfa matrix holds 2.38 but its comment says the guide prints
    # 2.28; 2.28 is inconsistent with n = 949 (949 × 0.25 % = 2.3725), so we keep
    # 2.38 and flag the cell as uncertain in C1_UNCERTAIN_TAINTINGS.
    ("0.20", "0.5"): ((10, 16, 48, 60, 80, 95, 119, 159, 238, 475, 949), "2.38"),
    ("0.25", "0.0"): ((3, 5, 14, 18, 24, 28, 35, 47, 70, 139, 278), "0"),
    ("0.25", "0.2"): ((4, 7, 19, 24, 32, 38, 48, 64, 95, 190, 380), "0.38"),
    ("0.25", "0.3"): ((5, 8, 23, 29, 39, 46, 58, 77, 115, 230, 460), "0.69"),
    ("0.25", "0.4"): ((6, 10, 29, 37, 49, 58, 73, 97, 145, 289, 578), "1.16"),
    ("0.25", "0.5"): ((8, 13, 38, 48, 64, 76, 95, 127, 190, 380, 760), "1.90"),
    ("0.30", "0.0"): ((3, 5, 13, 16, 21, 25, 31, 41, 61, 121, 241), "0"),
    ("0.30", "0.2"): ((4, 6, 17, 21, 27, 33, 41, 54, 81, 162, 323), "0.33"),
    ("0.30", "0.4"): ((5, 8, 24, 30, 40, 48, 60, 80, 120, 239, 477), "0.96"),
    ("0.30", "0.6"): ((9, 15, 43, 54, 71, 85, 107, 142, 213, 425, 850), "2.55"),
    ("0.35", "0.0"): ((3, 4, 11, 14, 18, 21, 27, 35, 53, 105, 210), "0"),
    ("0.35", "0.2"): ((3, 5, 14, 18, 23, 28, 35, 46, 69, 138, 276), "0.28"),
    ("0.35", "0.4"): ((4, 7, 20, 25, 34, 40, 50, 67, 100, 199, 397), "0.80"),
    ("0.35", "0.6"): ((7, 12, 34, 43, 57, 68, 85, 113, 169, 338, 676), "2.03"),
    ("0.50", "0.0"): ((2, 3, 7, 9, 12, 14, 18, 24, 35, 70, 139), "0"),
    ("0.50", "0.2"): ((2, 3, 9, 11, 15, 18, 22, 29, 44, 87, 173), "0.18"),
    ("0.50", "0.4"): ((3, 4, 12, 15, 19, 23, 29, 38, 57, 114, 228), "0.46"),
    ("0.50", "0.6"): ((4, 6, 17, 22, 29, 34, 43, 57, 85, 170, 340), "1.02"),
}
C1_UNCERTAIN_TAINTINGS: frozenset[tuple[str, str]] = frozenset({("0.20", "0.5")})


def c1_cells() -> list[tuple[str, str, str, int]]:
    """(risk, ratio, tolerable share, printed n) for every C-1 size cell."""
    return [
        (risk, ratio, tolerable, size)
        for (risk, ratio), (sizes, _) in C1_ROWS.items()
        for tolerable, size in zip(C1_TOLERABLE_COLUMNS, sizes, strict=True)
    ]


# --------------------------------------------------- Poisson confidence factors

# MUS evaluation factors (upper limit on the number of overstatements, Poisson),
# printed to two decimals, rounded up. Key: risk; values for 0..10 overstatements.
# Only the 5 % and 10 % columns, which we know well, are listed. The 10 % / 8
# overstatements cell is left out (None): we have seen it both as 13.00 and as
# 12.99 (the unrounded factor is 12.9947), so we cannot vouch for the printed value.
POISSON_FACTORS: dict[str, tuple[str | None, ...]] = {
    "0.05": ("3.00", "4.75", "6.30", "7.76", "9.16", "10.52", "11.85", "13.15", "14.44",
             "15.71", "16.97"),
    "0.10": ("2.31", "3.89", "5.33", "6.69", "8.00", "9.28", "10.54", "11.78", None,
             "14.21", "15.41"),
}  # fmt: skip
# Well-known zero-overstatement factors at other risks: risk -> factor.
POISSON_ZERO_FACTORS: dict[str, str] = {"0.20": "1.61", "0.37": "1.00", "0.50": "0.70"}
