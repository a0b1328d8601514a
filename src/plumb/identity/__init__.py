"""Identity: recognising records of the same person or company.

``comparators`` (how two values agree), ``plan`` (the workspace's matching definition, compiled),
``frame`` (records as columns, pairs compared vectorised), ``weights`` and ``estimate``
(Fellegi-Sunter weights, learnt by expectation-maximisation and from people's decisions),
``keys`` (blocking keys kept per record), ``candidates`` (likely duplicates of one record),
``entry`` (the write-path hooks and the entry policy), ``scan`` (the batch dedupe), ``queue``
(the review queue and "not a duplicate").
"""
