"""python -m hybrid_retrieval.report <multirun dir> [...]"""

from hybrid_retrieval.report.cli import main

raise SystemExit(main())
