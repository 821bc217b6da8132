# kgrec: the two commands a new user runs (see README.md). Each builds what it needs itself.
.PHONY: demo test help

help:
	@echo "make demo   run kgrec on the embedded store (no server): load the shared data, print stats and a sample, train the model"
	@echo "make test   run the whole test suite, the real Neo4j server included (what CI runs)"

demo:
	@bash scripts/demo.sh

test:
	@bash scripts/test.sh
