"""Labels and named attack-instrument families (species, in ISO/IEC 30107-3 terms)."""

from __future__ import annotations

from cardlive.errors import ParameterError

LABELS = ("genuine", "screen", "print")
SCREEN_FAMILIES = ("phone_oled_pentile", "laptop_lcd_rgb", "monitor_lcd_bgr", "tablet_lcd")
PRINT_FAMILIES = ("laser_am", "inkjet_fm", "dyesub_photo", "grey_copy")
ALL_SPECIES = ("genuine", *SCREEN_FAMILIES, *PRINT_FAMILIES)


def label_of(species: str) -> str:
    """The class label of a species: 'genuine', 'screen' or 'print'."""
    if species == "genuine":
        return "genuine"
    if species in SCREEN_FAMILIES:
        return "screen"
    if species in PRINT_FAMILIES:
        return "print"
    raise ParameterError(f"unknown species {species!r}; expected one of {list(ALL_SPECIES)}")


def parse_species(text: str | None) -> tuple[str, ...]:
    """Parse a comma-separated species list; 'screen' / 'print' expand to their families; None means all."""
    if not text:
        return ALL_SPECIES
    out: list[str] = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        expanded = {"screen": SCREEN_FAMILIES, "print": PRINT_FAMILIES, "all": ALL_SPECIES}.get(item, (item,))
        for name in expanded:
            label_of(name)  # validates
            if name not in out:
                out.append(name)
    if not out:
        raise ParameterError("the species list is empty; expected e.g. 'genuine,laser_am' or 'all'")
    return tuple(out)


def variants_for(species: tuple[str, ...]) -> tuple[str, ...]:
    """The class labels a pair is rendered in, in a fixed order."""
    labels = {label_of(s) for s in species}
    return tuple(label for label in LABELS if label in labels)
