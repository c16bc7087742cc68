"""Sample-and-Scrutinize: correlation of a batch's ratings with golden scores, and the decision.
(Being written by the scrutiny engineer; the signature below is the contract.)"""
from __future__ import annotations


def batch_scrutinize(*, batch_id: int):
    raise NotImplementedError("batch scrutiny is not implemented yet")
