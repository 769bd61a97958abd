# mypy: ignore-errors
# Source: github.com/stanfordnlp/dspy, docs/docs/tutorials/dataframe_rlm/cohort_analysis/cohort_analysis_demo.ipynb at commit 4ed377ee9110e912d4f5e1be43b317b87455053c
# Licence: MIT, Copyright (c) 2023 Stanford Future Data Systems (see LICENSE-dspy).
# The page's Python code blocks, in order; 0 block(s) that are not valid Python on their own were left out.
# Data for the linter's corpus test: never imported or run.

import pandas as pd

import dspy

# Import the standalone DataFrame wrapper (implements SandboxSerializable)
from dataframe import DataFrame

users = pd.read_parquet("users.parquet")
events = pd.read_parquet("events.parquet")
subscriptions = pd.read_parquet("subscriptions.parquet")

print(f"Users:         {len(users):,} rows")
print(f"Events:        {len(events):,} rows")
print(f"Subscriptions: {len(subscriptions):,} rows")

users.head()

subscriptions.head()

wrapped_users = DataFrame(users)
wrapped_events = DataFrame(events)
wrapped_subscriptions = DataFrame(subscriptions)

# This is what the LLM sees in its prompt:
print(wrapped_users.rlm_preview())

class CohortRetentionAnalysis(dspy.Signature):
    """You are a data analyst investigating why user retention is dropping.

    You have access to three DataFrames:
    - `users`: user profiles with signup dates and acquisition channels
    - `events`: feature usage events with timestamps
    - `subscriptions`: subscription status, plan, MRR, and cancellation reasons

    Investigate the data step by step. Compute retention by cohort, segment by
    acquisition channel, compare feature usage between retained and churned users,
    and identify the root cause of churn.
    """

    users: DataFrame = dspy.InputField(desc="User profiles with signup_date, acquisition_channel, country")
    events: DataFrame = dspy.InputField(desc="Feature usage events with user_id, event_type, timestamp")
    subscriptions: DataFrame = dspy.InputField(desc="Subscription records with status, plan, mrr, cancellation_reason")

    overall_churn_rate: float = dspy.OutputField(desc="Overall churn rate as a decimal (e.g. 0.25 for 25%)")
    worst_channel: str = dspy.OutputField(desc="Acquisition channel with highest churn rate")
    key_finding: str = dspy.OutputField(desc="The main insight about what differentiates churned users")
    recommendations: str = dspy.OutputField(desc="2-3 actionable recommendations based on the analysis")

lm = dspy.LM("openai/gpt-5.4")  # or "anthropic/claude-sonnet-4-5", etc.
dspy.configure(lm=lm)

analyzer = dspy.RLM(
    CohortRetentionAnalysis,
    max_iters=15,
    verbose=True,
)

result = analyzer(
    users=wrapped_users,
    events=wrapped_events,
    subscriptions=wrapped_subscriptions,
)

print(f"Overall Churn Rate: {result.overall_churn_rate:.1%}")
print(f"Worst Channel:     {result.worst_channel}")
print(f"\nKey Finding:\n  {result.key_finding}")
print(f"\nRecommendations:\n  {result.recommendations}")
print(f"\nRLM completed in {len(result.trajectory)} iterations")
