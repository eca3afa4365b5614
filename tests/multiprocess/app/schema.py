from reactor import define_schema, define_table, v

schema = define_schema(
    {
        # Pairs of rows whose balances always sum to zero: every transfer writes both.
        "accounts": define_table(
            {"pair": v.number(), "side": v.string(), "balance": v.number(), "version": v.number()}
        ).index("by_pair", ["pair", "side"]),
        # One row per applied transfer, with the pair's balances right after it.
        "ops": define_table(
            {
                "token": v.string(),
                "pair": v.number(),
                "amount": v.number(),
                "version": v.number(),
                "left": v.number(),
                "right": v.number(),
            }
        ).index("by_token", ["token"]),
        # One row per run of a scheduled job, with the process that ran it.
        "runs": define_table({"n": v.number(), "pid": v.number()}).index("by_n", ["n"]),
    }
)
