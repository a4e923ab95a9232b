#!/usr/bin/env python3
"""Splits the shared multilabel-relex set in two by sha256("quarter:" + item),
consolidates each half on its own (accord's default, hds, and majority vote)
and prints, per half and gold label: hds F1 and ROC AUC, the vote share's
ROC AUC, majority vote's F1 and the best vote-share threshold chosen with
the gold (the reference the issue compares against).

    RELEX=../shared/datasets/multilabel-relex ACCORD=target/release/accord \
        python3 benches/multilabel_relex_halves.py [OUT_DIR]
"""
import csv, hashlib, subprocess, sys, os, tempfile
OUT = sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp()
D=os.environ.get('RELEX', '../shared/datasets/multilabel-relex') + '/'
A=os.environ.get('ACCORD', 'target/release/accord')
q=lambda item: int(hashlib.sha256(('quarter:'+item).encode()).hexdigest(),16)%2
gold={(r['item'],r['label']):int(r['present']) for r in csv.DictReader(open(D+'gold.csv'))}
resp=list(csv.DictReader(open(D+'responses.csv')))
sel=list(csv.DictReader(open(D+'selections.csv')))
def auc(pairs):
    pos=[s for s,y in pairs if y]; neg=[s for s,y in pairs if not y]
    return sum((p>n)+0.5*(p==n) for p in pos for n in neg)/len(pos)/len(neg)
def f1(pairs):
    tp=sum(1 for s,y in pairs if s and y); fp=sum(1 for s,y in pairs if s and not y); fn=sum(1 for s,y in pairs if not s and y)
    return 2*tp/(2*tp+fp+fn) if tp else 0
for part in (0,1):
    d=os.path.join(OUT, f'half{part}'); os.makedirs(d,exist_ok=True)
    with open(d+'/responses.csv','w') as f:
        f.write('item,worker\n'); [f.write(f"{r['item']},{r['worker']}\n") for r in resp if q(r['item'])==part]
    with open(d+'/selections.csv','w') as f:
        f.write('item,worker,label\n'); [f.write(f"{r['item']},{r['worker']},{r['label']}\n") for r in sel if q(r['item'])==part]
    subprocess.run([A,'consolidate',d+'/selections.csv','--responses',d+'/responses.csv','--task','multilabel','--backend','cpu','-q','-o',d+'/hds.csv'],check=True)
    subprocess.run([A,'consolidate',d+'/selections.csv','--responses',d+'/responses.csv','--task','multilabel','--method','mv','--backend','cpu','-q','-o',d+'/mv.csv'],check=True)
    pred={}; share={}
    for r in csv.DictReader(open(d+'/hds.csv')): pred[(r['item'],r['label'])]=(float(r['confidence']),r['selected']=='1')
    for r in csv.DictReader(open(d+'/mv.csv')): share[(r['item'],r['label'])]=float(r['confidence'])
    for lab in ('TREATS','CAUSES'):
        ks=[k for k in gold if k[1]==lab and k in pred]
        best=max((f1([(share[k]>=t,gold[k]) for k in ks]),t) for t in [x/20 for x in range(1,20)])
        print(f"half {part} {lab}: n={len(ks)} hds F1 {f1([(pred[k][1],gold[k]) for k in ks]):.3f} AUC {auc([(pred[k][0],gold[k]) for k in ks]):.3f} | share AUC {auc([(share[k],gold[k]) for k in ks]):.3f} mv F1 {f1([(share[k]>=0.5,gold[k]) for k in ks]):.3f} gold-tuned share F1 {best[0]:.3f} (>= {best[1]})")
