"""Markdown tables as RESULTS.md and the README print them."""
import pandas as pd

from aux_select.analysis.report import markdown


def test_signed_text_keeps_its_sign_and_numbers_stay_numbers():
    # one seed: every "gain per seed" cell is a lone signed number, which tabulate would parse and unsign
    table = pd.DataFrame({"gain": [1.561, -0.2], "gain per seed": ["+1.6", "-0.2"]}, index=["clone", "flip"])
    lines = markdown(table).splitlines()
    assert "+1.6" in lines[2] and "1.56" in lines[2]
    assert lines[1].split("|")[2].endswith(":") and lines[1].split("|")[3].startswith(":")  # numbers right, text left
    assert "+1.6" in markdown(table.reset_index(), index=False)
