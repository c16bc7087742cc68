"""All domain logic of the annotation app: plain typed functions, keyword arguments, `<thing>_<action>`.

One module per area: jobs, users, campaigns, imports, assignment, ratings, golden, scrutiny, mos, exports.
"""
