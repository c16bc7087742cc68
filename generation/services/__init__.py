"""Services of the generation app: every write to its rows, and the GPU worker's body.

- taxonomy.py: the built-in taxonomy (paper Table 7) and campaigns' own, from YAML or CSV files;
- prompts.py: prompt sets: import (CSV/JSONL, all-or-nothing, deduplicated), text normalisation;
- classify.py: categories for prompts without one, by a keyword rule set or an LLM;
- generators.py: registering generators with how to run them (diffusers, tiny, external);
- jobs.py: creating, enqueueing and cancelling generation jobs (one output per prompt x generator x seed);
- running.py: the worker's body: claim a batch, generate it, write items as imports write them;
- review.py: approving or rejecting outputs that wait for approval;
- coverage.py: prompts x taxonomy and items x generator x category tables, with gaps.

torch and diffusers are imported only inside running.py's functions, so the web process and the default-queue
workers need neither.
"""
