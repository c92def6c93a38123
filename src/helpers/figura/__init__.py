"""Figura et al. 2021 (Int J Radiat Oncol Biol Phys 111(5):1145-1154, doi:10.1016/j.ijrobp.2021.06.038).

Patterns of failure after CAR T, lesion by lesion: ``model`` simulates patients, their
pretreatment lesions and each lesion's fate; ``gee`` and ``glmm`` fit the lesion-level odds
ratios three ways; ``calibration`` fits the generative parameters; ``analysis`` re-derives
claims FIG-01 ... FIG-11; ``plots`` draws the figures.
"""
