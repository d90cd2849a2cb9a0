module corefork.test/chart-render

go 1.19
